#!/bin/sh
# test_docs.sh - every command in the ```sh blocks of README.md and
# README.ja.md is run, so the docs cannot rot.
#
# The commands run in order, one shell per file (so a file made by one
# command is there for the next, and `cmd &` ... `kill $!` works), in a
# sandbox folder: the repository's folders are symbolic links into it
# (bin is the programs under test), everything a command writes lands in
# the sandbox.  Two things a test provides:
#   capture.pcap        "a capture of your plant": pcaps/demo-plant.pcap
#   /var/lib/mimamori   system paths in a command are the sandbox's
# A background job (`cmd &`) gets half a second to start before the next
# command; those still running at the end of a block are stopped.  One line per command: PASS when it exits 0, FAIL with its
# output's tail, SKIP with the reason for the few a test cannot run
# (skip_reason below).
. "$(dirname "$0")/lib.sh"

T=$(tmpdir)
BGPIDS=
trap 'rm -rf "$T"' EXIT

# Why a command cannot run here; empty when it can.
skip_reason() {
	case $1 in
	"make test"*) echo "the test suite itself (this test is part of it)" ;;
	"make scenarios"*) echo "re-records the kit's captures in place, as root; test_scenarios.sh checks the kit" ;;
	"make install"*) echo "installs into the system; test_hardening.sh checks make install into a DESTDIR" ;;
	'$EDITOR'*) echo "opens an editor" ;;
	systemctl*) echo "needs systemd running the installed units" ;;
	*" -i eth1"*|"tcpdump -i"*) echo "needs a span port (eth1)" ;;
	*"pidof mimamorid"*) echo "signals the live sensor of the command before" ;;
	esac
}

# extract FILE: "LINE<TAB>COMMAND" for every command of its ```sh blocks,
# "LINE<TAB>" at each block's end; continuation lines joined, comment
# lines and blank lines left out
extract() {
	awk '
	/^```sh[[:space:]]*$/ { inblock = 1; next }
	inblock && /^```/ { if (cmd != "") print start "\t" cmd; cmd = "";
	                    print NR "\t"; inblock = 0; next }
	!inblock { next }
	{
		line = $0
		if (cmd == "") {
			sub(/^[[:space:]]+/, "", line)
			if (line == "" || line ~ /^#/) next
			start = NR
		}
		if (line ~ /\\$/) { sub(/\\$/, "", line); cmd = cmd line; next }
		cmd = cmd line
		print start "\t" cmd
		cmd = ""
	}' "$1"
}

# the sandbox: the repository's folders linked, bin the programs under test
sandbox() {
	s=$1
	mkdir -p "$s/var/lib/mimamori" "$s/.docs"
	for f in "$ROOT"/* "$ROOT"/.ci; do
		[ -e "$f" ] || continue
		n=$(basename "$f")
		case $n in bin|out|*.db|*.db-wal|*.db-shm) continue ;; esac
		ln -s "$f" "$s/$n"
	done
	ln -s "$BIN" "$s/bin"
	cp "$ROOT/pcaps/demo-plant.pcap" "$s/capture.pcap"
}

# script FILE SANDBOX: a shell script running FILE's commands in SANDBOX,
# recording "LINE STATUS" (or "LINE skip REASON") in SANDBOX/.docs/status
script() {
	f=$1 s=$2
	printf 'cd "%s" || exit 1\nBGPIDS=\n' "$s"
	extract "$f" | while IFS='	' read -r line cmd; do
		if [ -z "$cmd" ]; then
			# end of a block: stop what it left running
			printf 'for p in $BGPIDS; do kill $p 2>/dev/null; done; wait; BGPIDS=\n'
			continue
		fi
		printf '%s\n' "$cmd" >"$s/.docs/$line.cmd"
		why=$(skip_reason "$cmd")
		if [ -n "$why" ]; then
			printf 'echo "%s skip %s" >>.docs/status\n' "$line" "$why"
			continue
		fi
		cmd=$(printf '%s' "$cmd" | sed "s|/var/lib/mimamori|$s/var/lib/mimamori|g")
		case $cmd in
		*"&")
			# half a second to start, as a person typing the next
			# command gives it (a server binds its socket)
			printf '%s >.docs/%s.out 2>&1 &\nBGPIDS="$BGPIDS $!"; echo "%s 0" >>.docs/status; sleep 0.5\n' \
				"${cmd%&}" "$line" "$line" ;;
		*)
			printf '{ %s\n} >.docs/%s.out 2>&1; echo "%s $?" >>.docs/status\n' \
				"$cmd" "$line" "$line" ;;
		esac
	done
}

for doc in README.md README.ja.md; do
	if [ ! -f "$ROOT/$doc" ]; then
		fail "docs $doc" "missing"
		continue
	fi
	s=$T/$(echo "$doc" | tr . _)
	mkdir -p "$s"
	sandbox "$s"
	script "$ROOT/$doc" "$s" >"$s/.docs/run.sh"
	n=$(grep -c . "$s/.docs/run.sh")
	# make in the sandbox uses the folders under test
	B=$B BIN=$BIN timeout 1200 sh "$s/.docs/run.sh" >"$s/.docs/run.out" 2>&1
	if [ ! -s "$s/.docs/status" ]; then
		fail "docs $doc" "no command ran ($n script lines): $(tail -3 "$s/.docs/run.out")"
		continue
	fi
	while read -r line rc rest; do
		# the command without its comment (often Japanese: cut counts bytes)
		c=$(sed 's/[[:space:]]\{1,\}#.*//' "$s/.docs/$line.cmd" | cut -c1-100)
		if [ "$rc" = skip ]; then
			skip "docs $doc:$line: $c" "$rest"
		elif [ "$rc" = 0 ]; then
			pass "docs $doc:$line: $c"
		else
			fail "docs $doc:$line: $c" "exit $rc: $(tail -5 "$s/.docs/$line.out" | tr '\n' ' ' | cut -c1-400)"
		fi
	done <"$s/.docs/status"
	ran=$(wc -l <"$s/.docs/status")
	cmds=$(extract "$ROOT/$doc" | awk -F'\t' '$2 != ""' | wc -l)
	if [ "$ran" -ne "$cmds" ]; then
		fail "docs $doc: every command ran" "$ran of $cmds (the script stopped: $(tail -3 "$s/.docs/run.out" | tr '\n' ' '))"
	fi
done

[ -z "$FAILED" ]
