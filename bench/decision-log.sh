#!/usr/bin/env bash
# bench/decision-log.sh: the decision-log load of issue 18. Writes RECORDS
# records (default 10 million; ~90 % routine, 10 % failover / skip /
# degraded / failed) through the public DecisionLog and reports: records/s
# the writer sustains, writer CPU µs per record (the writer thread's
# schedstat), bytes per record on disk (mix, routine only, non-routine
# only), records dropped when sent at RATE per second for PACED_SECS with
# the default queue, and the latency of each /admin/decisions filter and
# group_by over the whole file.
#
#   bench/decision-log.sh                      # 10 M records (~3 GB in DIR)
#   RECORDS=1000000 bench/decision-log.sh      # a quicker run
#
# Knobs: RECORDS (10000000), RATE (36000, the gateway's maximum on two
# cores), PACED_SECS (20), DIR (a temp dir; removed after unless KEEP=1).
# Needs the disk for ~300 bytes per record.
set -euo pipefail
REPO=$(cd "$(dirname "$0")/.." && pwd)
RECORDS=${RECORDS:-10000000}
RATE=${RATE:-36000}
PACED_SECS=${PACED_SECS:-20}
DIR=${DIR:-$(mktemp -d "${TMPDIR:-/tmp}/signalbox-decision-log.XXXXXX")}
for knob in RECORDS RATE PACED_SECS; do
    [[ ${!knob} =~ ^[1-9][0-9]*$ ]] || { echo "$knob must be a positive integer" >&2; exit 1; }
done
echo "# $(date -u +%FT%TZ) $(nproc) cores, load average: $(cut -d' ' -f1-3 /proc/loadavg)"
cd "$REPO"
extra=()
[[ ${KEEP:-0} == 1 ]] && extra+=(--keep)
nice cargo bench -p signalbox-decision-log --bench load -- \
    --records "$RECORDS" --rate "$RATE" --paced-secs "$PACED_SECS" --dir "$DIR" "${extra[@]}"
echo "# done $(date -u +%FT%TZ), load average: $(cut -d' ' -f1-3 /proc/loadavg)"
