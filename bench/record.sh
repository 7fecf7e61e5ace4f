# Sourced by the measurement scripts (instances.sh, redis.sh, mysql.sh) once $out
# exists: records the machine (machine.txt), samples the load average every 10 s
# until the script exits (loadavg.txt), starts commands.txt, and defines measure.

bash machine.sh > "$out/machine.txt"

(while sleep 10; do echo "$(date -u +%T) $(cut -d' ' -f1-3 /proc/loadavg)"; done) > "$out/loadavg.txt" &
sampler=$!
trap 'kill $sampler' EXIT

: > "$out/commands.txt"
# measure FILE ARGS...: runs the load command with ARGS into OUT/FILE, and notes
# the command in commands.txt.
measure() {
	local file=$1
	shift
	echo "go run ./load $*  > $file" >> "$out/commands.txt"
	go run ./load "$@" > "$out/$file"
	cat "$out/$file"
}
