#!/usr/bin/env python3
"""Assets from the shared captures: what devices state about themselves.

  assets_shared.py --pcaps DIR --bin BINDIR --work DIR

For every row of EXPECT below, two checks (one PASS/FAIL line each):
  witness_<file>_<ip>_<key>: tshark's own decode of the capture gives the
      expected value (so the table cannot drift from the wire: a FAIL here
      means the table is wrong, not the sensor);
  asset_<file>_<ip>_<key>: `mimamori assets --json` after
      `mimamorid -r FILE` has exactly that value for that host.
ABSENT rows say a host states nothing of that kind on the wire (tshark
finds no such PDU from it) and our inventory must not invent one.

The values were read off tshark 4.0's decode by hand (tshark -V and -T
fields), not off our output.  Sources of each kind of fact:
  S7comm  SZL 0x0011/0x0111 index 0x0001 (MlfB: the module's order number),
          index 0x0007 (firmware: Ausbg = 'V' and major, Ausbe = minor and
          patch, so 0x5603/0x0206 is V3.2.6), SZL 0x001c/0x011c indexes 1, 2,
          5, 7, 9 (PLC name, module name, serial number, module type name,
          PROFIBUS manufacturer id: 0x002a Siemens), SZL 0x0424 (the
          operating mode: bzu-id, tshark's "Requested mode").
  BACnet  I-Am (Clause 16.1) sent by the IP host itself (no SNET in the
          NPDU: an I-Am routed from behind a router describes another
          device, and our inventory is per IP address), and ReadProperty
          ACKs on the device object (model-name, firmware-revision, ...).
          Vendor names: ours is a short table; it must agree with tshark's
          (the ASHRAE registry's) name, compared as lower-case words, ours a
          prefix of tshark's, parenthesised remarks dropped.
  Modbus  Read Device Identification (FC 43/14, Modbus Application Protocol
          1.1b3 6.21) objects 0 VendorName, 1 ProductCode, 2
          MajorMinorRevision.
"""
import argparse, json, os, re, subprocess, sys

ABSENT = object()

# (capture, ip, key, expected value or ABSENT)
EXPECT = [
    # S7-300 IM151-8 PN/DP CPU (Wireshark wiki sample)
    ("ICS-Security-Tools/s7comm_reading_plc_status.pcap", "192.168.1.40",
     "order_number", "6ES7 151-8AB01-0AB0"),
    ("ICS-Security-Tools/s7comm_reading_plc_status.pcap", "192.168.1.40",
     "firmware", "V3.2.6"),
    ("ICS-Security-Tools/s7comm_reading_plc_status.pcap", "192.168.1.40",
     "plc_name", "IM151-8-CPU"),
    ("ICS-Security-Tools/s7comm_reading_plc_status.pcap", "192.168.1.40",
     "module_name", "IM151-8 PN/DP CPU"),
    ("ICS-Security-Tools/s7comm_reading_plc_status.pcap", "192.168.1.40",
     "serial_number", "S C-C6TW74882012"),
    ("ICS-Security-Tools/s7comm_reading_plc_status.pcap", "192.168.1.40",
     "module_type", "IM151-8 PN/DP CPU"),
    ("ICS-Security-Tools/s7comm_reading_plc_status.pcap", "192.168.1.40",
     "vendor_id", "0x002a"),
    ("ICS-Security-Tools/s7comm_reading_plc_status.pcap", "192.168.1.40",
     "cpu_mode", "RUN"),
    # the client states nothing
    ("ICS-Security-Tools/s7comm_reading_plc_status.pcap", "192.168.1.10",
     "order_number", ABSENT),
    # the same CPU; only SZL 0x0111 index 1 and 0x011c index 2 are read
    ("ICS-Security-Tools/s7comm_reading_setting_plc_time.pcap",
     "192.168.1.40", "order_number", "6ES7 151-8AB01-0AB0"),
    ("ICS-Security-Tools/s7comm_reading_setting_plc_time.pcap",
     "192.168.1.40", "module_name", "IM151-8 PN/DP CPU"),
    ("ICS-Security-Tools/s7comm_reading_setting_plc_time.pcap",
     "192.168.1.40", "firmware", ABSENT),
    # CPU 315-2 PN/DP seen by snap7 and by TIA Portal going online
    ("ICS-Security-Tools/snap7_s300_everything.pcapng", "134.217.61.211",
     "order_number", "6ES7 315-2EH14-0AB0"),
    ("ICS-Security-Tools/snap7_s300_everything.pcapng", "134.217.61.211",
     "firmware", "V3.2.7"),
    ("ICS-Security-Tools/snap7_s300_everything.pcapng", "134.217.61.211",
     "serial_number", "S C-B1U393142011"),
    ("ICS-Security-Tools/tia_s300_goOnline.pcapng", "134.217.61.211",
     "order_number", "6ES7 315-2EH14-0AB0"),
    ("ICS-Security-Tools/tia_s300_goOnline.pcapng", "134.217.61.211",
     "firmware", "V3.2.7"),
    ("ICS-Security-Tools/tia_s300_goOnline.pcapng", "134.217.61.211",
     "plc_name", "S7300/ET200M station_1"),
    ("ICS-Security-Tools/tia_s300_goOnline.pcapng", "134.217.61.211",
     "module_name", "PLC_1"),
    ("ICS-Security-Tools/tia_s300_goOnline.pcapng", "134.217.61.211",
     "module_type", "CPU 315-2 PN/DP"),
    # a snap7 server identifying as a CPU 315-2 PN/DP
    ("icsnpp-s7comm/s7ident.pcap", "172.17.0.2",
     "order_number", "6ES7 315-2EH14-0AB0"),
    ("icsnpp-s7comm/s7ident.pcap", "172.17.0.2", "firmware", "V3.2.6"),
    ("icsnpp-s7comm/s7ident.pcap", "172.17.0.2", "plc_name", "SNAP7-SERVER"),
    ("icsnpp-s7comm/s7ident.pcap", "172.17.0.2",
     "serial_number", "S C-C2UR28922012"),
    ("icsnpp-s7comm/s7ident.pcap", "172.17.0.2", "vendor_id", "0x002a"),
    ("icsnpp-s7comm/s7ident.pcap", "172.17.0.2", "cpu_mode", "RUN"),
    # only the CPU's state (SZL 0x0424) and a password: no identity
    ("ICS-Security-Tools/step7_s300_AuthPassword.pcapng", "134.249.61.163",
     "cpu_mode", "RUN"),
    ("ICS-Security-Tools/step7_s300_AuthPassword.pcapng", "134.249.61.163",
     "order_number", ABSENT),
    # SZL reads of status lists only (0x0131, 0x0132, 0x0424): no identity
    ("nDPI/s7comm.pcap", "192.168.1.40", "order_number", ABSENT),

    # BACnet: bacnet-stack demo device 123, vendor 0 (ASHRAE)
    ("arkime/bacnet-stack-services.pcap", "192.168.0.13",
     "bacnet_vendor_id", "0"),
    ("arkime/bacnet-stack-services.pcap", "192.168.0.13",
     "bacnet_device_instance", "123"),
    ("arkime/bacnet-stack-services.pcap", "192.168.0.13",
     "bacnet_vendor", "ASHRAE"),
    # 192.168.0.5 is a router: its I-Ams carry SNET 13 (device 61 behind it)
    ("arkime/bacnet-stack-services.pcap", "192.168.0.5",
     "bacnet_vendor_id", ABSENT),
    # an Alerton LSi controller, device 201, vendor 18, and its device object
    ("hilti/read-properties.pcap", "192.168.0.5", "bacnet_vendor_id", "18"),
    ("hilti/read-properties.pcap", "192.168.0.5",
     "bacnet_device_instance", "201"),
    ("hilti/read-properties.pcap", "192.168.0.5",
     "bacnet_vendor", "Alerton / Honeywell"),
    ("hilti/read-properties.pcap", "192.168.0.5",
     "vendor_name", "Alerton Technologies, Inc."),
    ("hilti/read-properties.pcap", "192.168.0.5",
     "model_name", "LSi Controller"),
    ("hilti/read-properties.pcap", "192.168.0.5",
     "firmware_revision", "BACtalk LSi   v3.10 A         "),
    ("hilti/read-properties.pcap", "192.168.0.5",
     "application_software_version", "LSi Controller v3.11 E"),
    ("hilti/read-properties.pcap", "192.168.0.5",
     "object_name", "Lithonia Router"),
    ("hilti/read-properties.pcap", "192.168.0.13", "bacnet_vendor_id", "42"),
    ("hilti/read-properties.pcap", "192.168.0.13",
     "bacnet_device_instance", "111"),
    ("hilti/who-is-i-am.pcap", "192.168.0.5", "bacnet_vendor_id", "18"),
    ("hilti/who-is-i-am.pcap", "192.168.0.5",
     "bacnet_device_instance", "201"),
    # only a routed I-Am (SNET 3, device 133) from this IP
    ("hilti/who-has.pcap", "192.168.0.24", "bacnet_vendor_id", ABSENT),
    ("icsnpp-bacnet/bacnet_segmented_data.pcap", "10.0.0.1",
     "bacnet_vendor_id", "154"),
    ("icsnpp-bacnet/bacnet_segmented_data.pcap", "10.0.0.1",
     "bacnet_device_instance", "0"),
    ("icsnpp-bacnet/bacnet_segmented_data.pcap", "10.0.0.2",
     "bacnet_vendor_id", "154"),
    ("icsnpp-bacnet/bacnet_segmented_data.pcap", "10.0.0.2",
     "bacnet_device_instance", "254"),
    ("icsnpp-bacnet/bacnet_services.pcap", "192.168.0.24",
     "bacnet_vendor_id", "24"),
    ("icsnpp-bacnet/bacnet_services.pcap", "192.168.0.24",
     "bacnet_device_instance", "4194303"),
    ("icsnpp-bacnet/bacnet_services.pcap", "192.168.0.24",
     "bacnet_vendor", "Automated Logic"),
    ("icsnpp-bacnet/bacnet_services.pcap", "192.168.0.50",
     "bacnet_vendor_id", "42"),
    ("icsnpp-bacnet/bacnet_services.pcap", "192.168.0.50",
     "bacnet_device_instance", "126"),
    ("icsnpp-bacnet/bacnet_services.pcap", "192.168.0.16",
     "bacnet_vendor_id", "42"),
    ("nDPI/bacnet.pcap", "204.172.177.255", "bacnet_vendor_id", "260"),
    ("nDPI/bacnet.pcap", "204.172.177.255",
     "bacnet_vendor", "BACnet Stack at SourceForge"),
    # 30 generated devices: a few by hand, all of them in the sweep below
    ("icsnpp-bacnet/bacnet_example.pcap", "172.20.32.100",
     "bacnet_vendor_id", "138"),
    ("icsnpp-bacnet/bacnet_example.pcap", "172.20.32.100",
     "bacnet_device_instance", "416"),
    ("icsnpp-bacnet/bacnet_example.pcap", "172.20.32.100",
     "model_name", "GHU-026"),
    ("icsnpp-bacnet/bacnet_example.pcap", "172.20.32.100",
     "firmware_revision", "5.6.1"),
    ("icsnpp-bacnet/bacnet_example.pcap", "172.20.32.106",
     "bacnet_vendor_id", "53"),
    ("icsnpp-bacnet/bacnet_example.pcap", "172.20.32.106",
     "bacnet_vendor", "Daikin Industries"),
    ("icsnpp-bacnet/bacnet_example.pcap", "172.20.32.109",
     "bacnet_vendor_id", "85"),
    ("icsnpp-bacnet/bacnet_example.pcap", "172.20.32.127",
     "bacnet_vendor_id", "173"),
    ("icsnpp-bacnet/bacnet_example.pcap", "172.20.32.127",
     "model_name", "EWP-367"),
    # a JCI NAE answering ReadProperty in UCS-2 strings (no I-Am)
    ("ICS-Security-Tools/bacnet_test.pcap", "10.1.1.165",
     "bacnet_vendor_id", "5"),
    ("ICS-Security-Tools/bacnet_test.pcap", "10.1.1.165",
     "vendor_name", "JCI"),
    ("ICS-Security-Tools/bacnet_test.pcap", "10.1.1.165",
     "model_name", "MS-NAE4510-2"),
    ("ICS-Security-Tools/bacnet_test.pcap", "10.1.1.165",
     "firmware_revision", "5.1.0.4400"),

    # Modbus Read Device Identification: the one response with objects in
    # the corpus (zeek's test server on loopback)
    ("icsnpp-modbus/modbus_example.pcap", "127.0.0.1",
     "vendor_name", "Zeek Modbus Test"),
    ("icsnpp-modbus/modbus_example.pcap", "127.0.0.1",
     "product_code", "Protocol Parsing is fun!"),
    ("icsnpp-modbus/modbus_example.pcap", "127.0.0.1",
     "revision", "1.2.3.6"),
    # a response with 0 objects (and a nonsense More Follows 0x4d): nothing
    ("zeek/modbus-eit.pcap", "192.168.88.100", "vendor_name", ABSENT),
    ("zeek/modbus-eit.pcap", "192.168.88.100", "product_code", ABSENT),
    # requests only, never answered
    ("ICS-Security-Tools/modbus_test_data_part1.pcap", "10.0.0.8",
     "vendor_name", ABSENT),
]

# vendor ids whose name in our table is the registry's earlier name of the
# same company (the registry renames; the id stays)
VENDOR_ALIASES = {
    "42": "Lithonia Lighting",  # Acuity Brands Lighting owns the brand
}


CACHE = {}


def tshark(pcap, args):
    """tshark's output for this capture and these arguments (once each)"""
    k = (pcap, tuple(args))
    if k not in CACHE:
        CACHE[k] = subprocess.run(["tshark", "-n", "-r", pcap] + list(args),
                                  capture_output=True, text=True).stdout
    return CACHE[k]


def tshark_fields(pcap, flt, fields, occurrence=None):
    args = ["-Y", flt, "-T", "fields", "-E", "separator=\t"]
    if occurrence:
        args += ["-E", "occurrence=" + occurrence]
    for f in fields:
        args += ["-e", f]
    return [l.split("\t") for l in tshark(pcap, args).splitlines()]


def split(v):
    return v.split(",") if v else []


S7_SZL_1C = {"plc_name": "0001.name", "module_name": "0002.name",
             "serial_number": "0005.serialn", "module_type":
             "0007.cputypname"}
BACNET_PROPS = {"model_name": "model-name",
                "firmware_revision": "firmware-revision",
                "application_software_version":
                "application-software-version",
                "vendor_name": "vendor-name", "object_name": "object-name"}
MODBUS_OBJ = {"vendor_name": 0, "product_code": 1, "revision": 2}
S7_SZL_1C["vendor_id"] = "0009.manufacturer_id"
S7_KEYS = {"order_number", "firmware", "cpu_mode"} | set(S7_SZL_1C)
BACNET_KEYS = {"bacnet_vendor_id", "bacnet_device_instance",
               "bacnet_vendor"} | set(BACNET_PROPS)


def s7_module_ident(pcap, ip):
    """{index: (mlfb, ausbg, ausbe)} of SZL xy11 records sent by ip"""
    res = {}
    for row in tshark_fields(pcap, "s7comm.szl.xy11.0001.index",
                             ["ip.src", "s7comm.szl.xy11.0001.index",
                              "s7comm.szl.xy11.0001.anz",
                              "s7comm.szl.xy11.0001.ausbg",
                              "s7comm.szl.xy11.0001.ausbe"]):
        if row[0] != ip:
            continue
        for i, a, g, e in zip(*[split(x) for x in row[1:]]):
            res[int(i, 0)] = (a.strip(), int(g, 0), int(e, 0))
    return res


def bacnet_i_am(pcap, ip):
    """(instance, vendor id) of each I-Am the IP host sends as itself (no
    SNET: not routed from another network)"""
    rows = tshark_fields(pcap, "bvlc && bacapp.unconfirmed_service==0 && "
                         "!bacnet.snet", ["ip.src", "bacapp.instance_number",
                                          "bacapp.vendor_identifier"], "f")
    return [(str(int(r[1], 0)), str(int(r[2], 0))) for r in rows
            if r[0] == ip and r[1] and r[2]]


def bacnet_device_props(pcap, ip):
    """[(property, value)] of ReadProperty ACKs on a device object that the
    IP host sends as itself"""
    txt = tshark(pcap, ["-Y", "bacapp.type==3 && bacapp.confirmed_service==12"
                        " && !bacnet.snet && bacapp.objectType==8", "-V"])
    res = []
    for fr in re.split(r"^Frame \d+:", txt, flags=re.M)[1:]:
        m = re.search(r"^Internet Protocol Version 4, Src: ([0-9.]+),", fr,
                      re.M)
        if not m or m.group(1) != ip:
            continue
        for m in re.finditer(r"^\s+([a-z-]+): (?:\(Unsigned\) (\d+)|"
                             r"[^'\n]*'(.*)')$", fr, re.M):
            res.append((m.group(1), m.group(2) if m.group(2) is not None
                        else m.group(3)))
        # tshark shows object-name values as "Object Name: ..."
        for m in re.finditer(r"^\s+Object Name: (.*)$", fr, re.M):
            res.append(("object-name", m.group(1)))
    return res


def witness(pcap, ip, key):
    """the values tshark decodes for this fact from ip (a set)"""
    vals = set()
    if key == "order_number":
        r = s7_module_ident(pcap, ip)
        if 1 in r:
            vals.add(r[1][0])
    elif key == "firmware":
        r = s7_module_ident(pcap, ip)
        if 7 in r:
            _, g, e = r[7]
            if g >> 8 == ord("V"):
                vals.add("V%d.%d.%d" % (g & 0xFF, e >> 8, e & 0xFF))
    elif key == "cpu_mode":
        txt = tshark(pcap, ["-Y", "s7comm.szl.0424.0000.bzu_id && ip.src==%s"
                            % ip, "-V"])
        vals.update(re.findall(r"bzu-id: 0x[0-9a-f]+, Requested mode: (\w+)",
                               txt))
    elif key in S7_SZL_1C:
        f = "s7comm.szl.001c." + S7_SZL_1C[key]
        for row in tshark_fields(pcap, f, ["ip.src", f]):
            if row[0] == ip:
                vals.update(split(row[1]))
    elif key in ("bacnet_vendor_id", "bacnet_vendor"):
        vals = {v for _, v in bacnet_i_am(pcap, ip)}
        vals |= {v for p, v in bacnet_device_props(pcap, ip)
                 if p == "vendor-identifier"}
        if key == "bacnet_vendor":
            vals = {VENDOR_NAMES.get(v, "?" + v) for v in vals}
    elif key == "bacnet_device_instance":
        vals = {i for i, _ in bacnet_i_am(pcap, ip)}
    elif key in MODBUS_OBJ and "modbus" in pcap:
        for row in tshark_fields(pcap, "modbus.object_id",
                                 ["ip.src", "modbus.object_id",
                                  "modbus.object_str_value"]):
            if row[0] != ip:
                continue
            for i, v in zip(split(row[1]), row[2].split(",")):
                if int(i, 0) == MODBUS_OBJ[key]:
                    vals.add(v)
    elif key in BACNET_PROPS:
        vals = {v for p, v in bacnet_device_props(pcap, ip)
                if p == BACNET_PROPS[key]}
    return vals


VENDOR_NAMES = {}


def load_vendor_names():
    out = subprocess.run(["tshark", "-G", "values"], capture_output=True,
                         text=True).stdout
    for l in out.splitlines():
        p = l.split("\t")
        if len(p) >= 4 and p[0] == "V" and p[1] == "bacapp.vendor_identifier":
            VENDOR_NAMES[str(int(p[2], 0))] = p[3]


def words(s):
    s = re.sub(r"\([^)]*\)", " ", s)
    return re.sub(r"[^a-z0-9]+", " ", s.lower()).split()


def same_vendor(ours, registry, vid):
    if VENDOR_ALIASES.get(vid) == ours:
        return True
    o, r = words(ours), words(registry)
    return len(o) > 0 and r[:len(o)] == o


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--pcaps", required=True)
    ap.add_argument("--bin", required=True)
    ap.add_argument("--work", required=True)
    a = ap.parse_args()
    load_vendor_names()
    zones = os.path.join(a.work, "zones.yaml")
    with open(zones, "w") as f:
        f.write("zones:\n  - { id: everything, archetype: other, "
                "strength: medium, networks: [0.0.0.0/0] }\n")
    failed = False
    assets = {}
    for pcap in sorted({e[0] for e in EXPECT}):
        path = os.path.join(a.pcaps, pcap)
        name = re.sub(r"[^A-Za-z0-9]+", "_", pcap)
        db = os.path.join(a.work, name + ".db")
        r = subprocess.run([os.path.join(a.bin, "mimamorid"), "-q", "-r",
                            path, "--zones", zones, "--db", db,
                            "--sensor", "assets-test", "--log-dir",
                            os.path.join(a.work, name + ".logs")],
                           capture_output=True, text=True)
        if r.returncode != 0:
            print("FAIL: assets_run_%s: mimamorid status %d: %s"
                  % (name, r.returncode, r.stderr[:200]))
            failed = True
            continue
        out = subprocess.run([os.path.join(a.bin, "mimamori"), "assets",
                              "--db", db, "--json"], capture_output=True,
                             text=True).stdout
        hosts = {}
        for l in out.splitlines():
            d = json.loads(l)
            hosts[d["ip"]] = d["facts"].get("facts", {})
        assets[pcap] = hosts
    for pcap, ip, key, want in EXPECT:
        name = "%s_%s_%s" % (re.sub(r"[^A-Za-z0-9]+", "_", pcap), ip, key)
        if pcap not in assets:
            continue
        path = os.path.join(a.pcaps, pcap)
        w = witness(path, ip, key)
        if want is ABSENT:
            ok_w = not w
            shown = "nothing"
        else:
            if key == "bacnet_vendor":
                ok_w = any(same_vendor(want, n, "") for n in w) or (
                    any(VENDOR_ALIASES.get(i) == want for i in
                        [k for k, v in VENDOR_NAMES.items() if v in w]))
            else:
                ok_w = want in w
            shown = repr(want)
        if ok_w:
            print("PASS: witness_" + name)
        else:
            print("FAIL: witness_%s: the table says %s, tshark decodes %s"
                  % (name, shown, sorted(w)))
            failed = True
        got = assets[pcap].get(ip, {}).get(key)
        if want is ABSENT:
            ok = got is None
        else:
            ok = got == want
        if ok:
            print("PASS: asset_" + name)
        else:
            print("FAIL: asset_%s: want %s, got %r" % (name, shown, got))
            failed = True
    # the sweep: every host that states a BACnet vendor id (I-Am or device
    # object) has ours among tshark's, with the device instance that the
    # same I-Am states, and a vendor name that is the registry's for the id
    for pcap, hosts in sorted(assets.items()):
        if not any(e[0] == pcap and e[2].startswith("bacnet_")
                   for e in EXPECT):
            continue
        path = os.path.join(a.pcaps, pcap)
        bad = []
        for ip, facts in sorted(hosts.items()):
            vid = facts.get("bacnet_vendor_id")
            w = witness(path, ip, "bacnet_vendor_id")
            if vid is None:
                if w:
                    bad.append("%s: states %s, ours none" % (ip, sorted(w)))
                continue
            if vid not in w:
                bad.append("%s: ours %s, tshark %s" % (ip, vid, sorted(w)))
            # instance and vendor id from one and the same I-Am
            inst = facts.get("bacnet_device_instance")
            pairs = set(bacnet_i_am(path, ip))
            if inst is not None and pairs and (inst, vid) not in pairs:
                bad.append("%s: (device %s, vendor %s) is no I-Am's pair, "
                           "the I-Ams state %s" % (ip, inst, vid,
                                                   sorted(pairs)))
            vn = facts.get("bacnet_vendor")
            if vn is not None and not same_vendor(
                    vn, VENDOR_NAMES.get(vid, ""), vid):
                bad.append("%s: vendor %s named %r, registry %r"
                           % (ip, vid, vn, VENDOR_NAMES.get(vid)))
        n = "sweep_bacnet_vendor_" + re.sub(r"[^A-Za-z0-9]+", "_", pcap)
        if bad:
            print("FAIL: %s: %s" % (n, "; ".join(bad)[:600]))
            failed = True
        else:
            print("PASS: " + n)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
