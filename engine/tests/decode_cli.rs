//! `engine decode` as a user runs it on a file of captured messages.

mod common;

use common::engine;

#[test]
fn a_clean_file_exits_0_and_a_bad_line_exits_1() {
    let dir = tempfile::tempdir().unwrap();
    let good = dir.path().join("good.jsonl");
    std::fs::write(
        &good,
        "{\"u\":400900217,\"s\":\"BNBUSDT\",\"b\":\"25.35190000\",\"B\":\"31.21000000\",\"a\":\"25.36520000\",\"A\":\"40.66000000\"}\n",
    )
    .unwrap();
    let (code, stdout, _) = engine(&["decode", "--venue", "binance", good.to_str().unwrap()]);
    assert_eq!(code, Some(0));
    let event: serde_json::Value = serde_json::from_str(stdout.trim()).unwrap();
    assert_eq!(event["kind"], "bbo");
    assert_eq!(event["levels"][1]["price"], "25.36520000");

    let bad = dir.path().join("bad.jsonl");
    std::fs::write(&bad, "{\"e\":\"trade\",\"s\":\"X\",\"t\":1,\"p\":\"NaN\",\"q\":\"1\",\"T\":1,\"m\":true}\n")
        .unwrap();
    let (code, stdout, _) = engine(&["decode", "--venue", "binance", bad.to_str().unwrap()]);
    assert_eq!(code, Some(1));
    assert!(stdout.contains("\"line\":1"), "{stdout}");
    assert!(stdout.contains("not a finite number"), "{stdout}");
}

#[test]
fn a_missing_file_or_unknown_venue_is_a_clear_error() {
    let (code, _, stderr) = engine(&["decode", "--venue", "binance", "/nonexistent/capture.jsonl"]);
    assert_eq!(code, Some(2));
    assert!(stderr.starts_with("error: cannot read /nonexistent/capture.jsonl: "), "{stderr}");
    let (code, _, stderr) = engine(&["decode", "--venue", "nyse", "x"]);
    assert_eq!(code, Some(2));
    assert!(stderr.contains("invalid value 'nyse'"), "{stderr}");
}

#[test]
fn bybit_frames_decode_an_ack_is_nothing_and_a_refused_subscription_fails_by_line() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("bybit.jsonl");
    std::fs::write(
        &file,
        concat!(
            r#"{"topic":"orderbook.50.BTCUSDT","type":"snapshot","ts":1672304484978,"data":{"s":"BTCUSDT","b":[["16493.50","0.006"]],"a":[["16611.00","0.029"]],"u":18521288,"seq":7961638724},"cts":1672304484976}"#,
            "\n",
            r#"{"success":true,"ret_msg":"","conn_id":"x","req_id":"","op":"subscribe"}"#,
            "\n",
            r#"{"success":false,"ret_msg":"error:handler not found","conn_id":"x","req_id":"","op":"subscribe"}"#,
            "\n"
        ),
    )
    .unwrap();
    let (code, stdout, _) = engine(&["decode", "--venue", "bybit", file.to_str().unwrap()]);
    assert_eq!(code, Some(1));
    let lines: Vec<serde_json::Value> = stdout.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!(lines[0]["venue"], "bybit");
    assert_eq!(lines[0]["symbol"], "BTCUSDT");
    assert_eq!(lines[0]["levels"][0]["price"], "16493.50000000");
    assert_eq!(lines[0]["first_seq"], 18521288);
    assert_eq!(lines.len(), 2, "the ack adds no line: {stdout}");
    assert_eq!(lines[1]["line"], 3);
}

#[test]
fn okx_frames_decode_with_their_sequence_chain() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("okx.jsonl");
    std::fs::write(
        &file,
        r#"{"arg":{"channel":"books","instId":"BTC-USDT"},"action":"update","data":[{"asks":[["8476.98","0","0","0"]],"bids":[],"ts":"1597026383086","checksum":1,"prevSeqId":123456,"seqId":123470}]}"#,
    )
    .unwrap();
    let (code, stdout, _) = engine(&["decode", "--venue", "okx", file.to_str().unwrap()]);
    assert_eq!(code, Some(0), "{stdout}");
    let event: serde_json::Value = serde_json::from_str(stdout.trim()).unwrap();
    assert_eq!((event["venue"].as_str(), event["symbol"].as_str()), (Some("okx"), Some("BTC-USDT")));
    assert_eq!((event["first_seq"].as_u64(), event["last_seq"].as_u64()), (Some(123456), Some(123470)));
    assert_eq!(event["levels"][0]["size"], "0.00000000");
}
