#!/usr/bin/env bash
# The reliability report: runs every fault-injection scenario (each an automated test
# against the real components: the exchange simulator over loopback WebSockets, a
# real PostgreSQL, real processes), one at a time, and prints a table: scenario,
# faults injected, recoveries, records expected vs found in the journal and the
# database, duplicates, outcome. Each test writes its row to $RELIABILITY_REPORT
# after its assertions (engine/tests/common/report.rs); a test that counts nothing
# worth a row (the shared-memory ring's) gets the note given here. A scenario passes
# only if its one test ran and passed; a failing test shows as FAIL with its log.
#
#   scripts/reliability.sh                 # every scenario; exit 0 only if all passed
#   scripts/reliability.sh --json out.json # the same table as JSON too
#   scripts/reliability.sh crash           # only scenarios whose name contains "crash"
#
# Starts a throwaway PostgreSQL cluster (scripts/pg.sh) unless PGHOST is set. The
# tests build in the test profile (optimized, as scripts/test.sh builds them).
set -uo pipefail
cd "$(dirname "$0")/.."

json=""
filter=""
while [[ $# -gt 0 ]]; do
  case "$1" in
    --json) json="${2:?--json needs a path}"; shift 2 ;;
    --json=*) json="${1#--json=}"; shift ;;
    -h|--help) sed -n '2,15p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    -*) echo "reliability.sh: unknown flag $1 (see --help)" >&2; exit 2 ;;
    *) filter="$1"; shift ;;
  esac
done

# section (the issue's numbering) | scenario | package | test binary | test name | note when the test writes no row
scenarios=(
  "1|feed connection dropped|engine|ws_e2e|a_dropped_feed_is_reconnected_and_the_books_resynced"
  "1|feed silent, then dropped|engine|ws_e2e|a_silent_then_dropped_feed_is_reported_stale_then_disconnected"
  "1|one venue's feed silent|engine|ws_e2e|one_silent_venue_goes_stale_alone_while_the_other_trades_on"
  "1|sequence gaps|engine|ws_e2e|gaps_resync_from_in_stream_snapshots"
  "1|duplicated frames|engine|ws_e2e|duplicated_updates_are_dropped_as_stale_and_never_applied_twice"
  "1|reordered frames|engine|ws_e2e|reordered_updates_are_caught_as_gaps_and_resynced"
  "1|malformed frames|engine|ws_e2e|malformed_updates_are_decode_errors_then_gaps_then_resynced"
  "1|off-market prints, market maker|engine|ws_e2e|absurd_trade_prints_never_price_an_order_off_the_market"
  "1|off-market prints, stops|engine|ws_e2e|off_market_prints_fire_no_stop"
  "1|crossed book|engine|ws_e2e|a_crossed_book_update_invalidates_the_book_until_a_snapshot_resyncs_it"
  "1|book checksum mismatch (OKX)|engine|ws_e2e|an_okx_feed_is_subscribed_checksummed_sequenced_and_traded"
  "2|rejects storm, breaker|engine|kill_switch|a_rejects_storm_opens_the_venue_circuit_breaker"
  "2|rejects storm, kill switch|engine|kill_switch|a_rejects_storm_without_a_breaker_trips_the_kill_switch"
  "2|ack timeout|engine|gateway_ws|lost_acks_are_settled_by_asking_the_venue_not_by_a_timer"
  "2|venue disconnect, cancel-on-disconnect|engine|gateway_ws|cancel_on_disconnect_cancels_resting_orders_and_the_reconnect_delivers_every_missed_report"
  "2|venue restart|engine|gateway_ws|a_venue_that_restarts_is_reconnected_and_every_order_settled"
  "2|fill during cancel|engine|gateway_ws|fills_that_race_a_cancel_are_applied_in_pending_cancel"
  "2|over-fill|engine|gateway_ws|an_over_fill_trips_the_kill_switch_and_never_reaches_the_position"
  "2|one of two venues killed|engine|gateway_ws|venues::one_venue_lost_leaves_the_other_trading|venue 1's simulator killed -9: no halt, venue 0 still fills a second after venue 1's last fill"
  "2|one venue's order entry cut, its feed up|engine|gateway_ws|venues::the_router_sends_nothing_to_a_venue_whose_order_entry_is_down|after the cut no order is routed to venue 1 only to be refused there"
  "2|lost acks while another venue is down|engine|gateway_ws|venues::lost_acks_at_one_venue_are_settled_while_another_venue_is_down|venue 0's lost acks settled by asking it alone; every venue-0 order finished"
  "2|a venue back while another is down|engine|gateway_ws|venues::a_venue_back_while_another_is_down_is_settled_and_trades|venue 0 reconnected, settled and trading again while venue 1 stays cut"
  "2|a venue hung after the upgrade|engine|gateway_ws|venues::a_venue_that_never_answers_its_login_does_not_stall_the_trading_core|venue 1's logins unanswered each second: a 500 ms watchdog stays quiet, venue 0 fills on"
  "2|a venue that never answers its settle question|engine|gateway_ws|venues::a_venue_that_never_answers_its_settle_question_does_not_stall_the_trading_core|venue 1 answers logins only: its settle questions given up, a 500 ms watchdog quiet, venue 0 fills on"
  "2|settle answers 450 ms late, lost acks|engine|gateway_ws|venues::lost_acks_are_settled_by_a_slow_venue_without_stalling_the_trading_core|lost acks settled from late answers under a 300 ms watchdog; every order finished"
  "3|engine killed -9 at random (x20)|engine|crash|an_engine_killed_at_random_moments_loses_and_repeats_nothing"
  "3|database stopped 30 s, then killed -9|engine|pg_outage|a_database_stopped_for_30_s_then_killed_is_backfilled_exactly_once"
  "3|journal writer killed -9|persist|journal|a_writer_killed_at_random_moments_leaves_a_gapless_journal"
  "3|database loader killed -9|persist|pg|a_loader_killed_at_random_points_resumes_to_exactly_once"
  "3|parallel database loader killed -9|persist|pg|a_parallel_loader_killed_at_random_points_resumes_to_exactly_once"
  "4|journal disk full|engine|run_cli|a_full_disk_stops_the_engine_counts_what_was_not_journaled_and_corrupts_nothing"
  "5|record ring full, persistence stalled 3 s|engine|run_cli|a_stalled_persistence_core_costs_only_counted_market_records"
  "6|stage stalls, orders at a websocket venue|engine|gateway_ws|a_stalled_engine_leaves_nothing_resting_at_a_cancel_on_disconnect_venue"
  "6|stage panics or stalls|engine|run_cli|a_panicking_or_stalled_stage_exits_4_with_everything_handed_over_journaled"
  "7|shm ring: wrong item type|rings|two_process|a_process_with_the_wrong_item_type_gets_a_clear_error|a second process attaching with another type gets an error naming both types"
  "7|shm ring: consumer dies|rings|two_process|a_consumer_that_dies_is_reported_and_can_be_replaced|SIGKILLed consumer reported Died; a new one takes over, nothing lost"
  "7|shm ring: producer dies|rings|two_process|a_producer_that_dies_is_reported_to_the_consumer|SIGKILLed producer reported Died; what it published is still delivered"
  "7|shm ring: wrong layout|rings|shm_errors|version_kind_type_and_field_mismatches_are_named|wrong kind, type, capacity and layout version: each a named error"
  "8|bad flags|engine|run_cli|bad_flags_are_named_with_what_would_be_accepted"
  "8|bad config files|engine|run_cli|a_config_file_sets_flags_and_the_command_line_overrides_it"
)

if [[ -n "${PGHOST:-}" && -z "${ENGINE_PG_DIR:-}" ]]; then
  # The outage scenarios stop and restart the cluster through scripts/pg.sh.
  echo "reliability.sh: PGHOST is set but ENGINE_PG_DIR is not: give a cluster from scripts/pg.sh, or unset PGHOST" >&2
  exit 2
fi
if [[ -z "${PGHOST:-}" ]]; then
  pg_env="$(scripts/pg.sh start)" || { echo "reliability.sh: could not start PostgreSQL" >&2; exit 1; }
  eval "$pg_env"
  trap 'scripts/pg.sh stop' EXIT
fi

echo "building the tests..." >&2
cargo test --locked --workspace --no-run -q >/dev/null 2>&1 \
  || { cargo test --locked --workspace --no-run; exit 1; }

logs="$(mktemp -d)"
rows=()
failed=0
for s in "${scenarios[@]}"; do
  IFS='|' read -r section name package binary test fixed_note <<<"$s"
  [[ -n "$filter" && "$name $binary $test" != *"$filter"* ]] && continue
  report="$logs/$test.row"
  log="$logs/$test.log"
  start=$(date +%s)
  # A hung scenario fails on its own rather than stall the report.
  if RELIABILITY_REPORT="$report" timeout 600 cargo test --locked -q -p "$package" --test "$binary" -- --exact "$test" \
      >"$log" 2>&1 && grep -q 'test result: ok. 1 passed' "$log" && [[ -s "$report" || -n "$fixed_note" ]]; then
    outcome=pass
  else
    outcome=FAIL
    failed=$((failed + 1))
  fi
  seconds=$(( $(date +%s) - start ))
  line="$(tail -1 "$report" 2>/dev/null)"
  fields="${line%% note=*}"  # the note may hold anything, `key=` included
  field() { sed -n "s/.*\b$1=\([^ ]*\).*/\1/p" <<<"$fields"; }
  note=""
  [[ "$line" == *" note="* ]] && note="${line#* note=}"
  [[ -z "$note" ]] && note="$fixed_note"
  [[ $outcome == FAIL ]] && note="see $log"
  rows+=("$section|$name|$(field injected)|$(field recovered)|$(field expected)|$(field journal)|$(field database)|$(field duplicates)|$outcome|${seconds}s|$note")
  printf '%-3s %-40s %s\n' "$section" "$name" "$outcome" >&2
done

printf '\n| # | scenario | injected | recovered | expected | journal | database | duplicates | outcome | time | note |\n'
printf '|---|---|---|---|---|---|---|---|---|---|---|\n'
for r in "${rows[@]}"; do
  IFS='|' read -r section name injected recovered expected journal database duplicates outcome seconds note <<<"$r"
  printf '| %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s |\n' "$section" "$name" "${injected:--}" \
    "${recovered:--}" "${expected:--}" "${journal:--}" "${database:--}" "${duplicates:--}" "$outcome" "$seconds" "$note"
done

if [[ -n "$json" ]]; then
  {
    echo "["
    for i in "${!rows[@]}"; do
      IFS='|' read -r section name injected recovered expected journal database duplicates outcome seconds note <<<"${rows[$i]}"
      num() { [[ "$1" =~ ^[0-9]+$ ]] && echo "$1" || echo null; }
      esc() { sed 's/\\/\\\\/g; s/"/\\"/g' <<<"$1"; }
      sep=","; [[ $i -eq $((${#rows[@]} - 1)) ]] && sep=""
      printf '  {"section": %s, "scenario": "%s", "injected": %s, "recovered": %s, "expected": %s, "journal": %s, "database": %s, "duplicates": %s, "outcome": "%s", "seconds": %s, "note": "%s"}%s\n' \
        "$section" "$(esc "$name")" "$(num "$injected")" "$(num "$recovered")" "$(num "$expected")" "$(num "$journal")" \
        "$(num "$database")" "$(num "$duplicates")" "$outcome" "${seconds%s}" "$(esc "$note")" "$sep"
    done
    echo "]"
  } >"$json"
  echo "wrote $json" >&2
fi

if [[ $failed -gt 0 ]]; then
  echo "reliability.sh: $failed scenario(s) FAILED; logs in $logs" >&2
  exit 1
fi
rm -rf "$logs"
echo "reliability.sh: all ${#rows[@]} scenarios met their expectations" >&2
