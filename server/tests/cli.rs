//! The command line as a user meets it: the real binary, run as a process.

mod common;

use std::process::{Command, Output};

fn sextant(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_sextant"))
        .args(args)
        .output()
        .expect("the sextant binary runs")
}

#[test]
fn version_prints_the_crate_version() {
    let out = sextant(&["--version"]);
    assert!(out.status.success());
    let stdout = String::from_utf8(out.stdout).unwrap();
    assert_eq!(
        stdout.trim(),
        format!("sextant {}", env!("CARGO_PKG_VERSION"))
    );
}

#[test]
fn help_lists_every_subcommand() {
    let out = sextant(&["--help"]);
    assert!(out.status.success());
    let stdout = String::from_utf8(out.stdout).unwrap();
    for sub in [
        "serve",
        "profile",
        "show",
        "merge",
        "compare",
        "export-predictions",
    ] {
        assert!(
            stdout.lines().any(|l| l.trim_start().starts_with(sub)),
            "`{sub}` missing from --help:\n{stdout}"
        );
    }
}

#[test]
fn usage_errors_exit_with_status_2() {
    let out = sextant(&["no-such-command"]);
    assert_eq!(out.status.code(), Some(2));
    let out = sextant(&["merge", "-o", "out.bin"]);
    assert_eq!(out.status.code(), Some(2), "merge needs at least one input");
}

fn wine(file: &str) -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../shared/data")
        .join(file)
}

fn tempdir(name: &str) -> common::TempDir {
    common::TempDir::new(&format!("cli-{name}"))
}

fn run_ok(args: &[&str]) -> String {
    let out = sextant(args);
    assert!(
        out.status.success(),
        "sextant {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

#[test]
fn profile_show_merge_compare_on_the_wine_data() {
    let dir = tempdir("flow");
    let red = dir.join("red.sxp");
    let white = dir.join("white.sxp");
    let both = dir.join("both.sxp");
    let (red_s, white_s, both_s) = (
        red.to_str().unwrap(),
        white.to_str().unwrap(),
        both.to_str().unwrap(),
    );
    run_ok(&[
        "profile",
        wine("winequality-red.csv").to_str().unwrap(),
        "-o",
        red_s,
    ]);
    run_ok(&[
        "profile",
        wine("winequality-white.csv").to_str().unwrap(),
        "--delimiter",
        ";",
        "-o",
        white_s,
    ]);

    let json: serde_json::Value =
        serde_json::from_str(&run_ok(&["show", red_s, "--json"])).unwrap();
    assert_eq!(json["rows"], 1599);
    for key in ["window_start", "window_end"] {
        let t = json[key].as_str().unwrap();
        assert!(sextant::time::parse_timestamp(t).is_ok(), "{key}: {t}");
    }
    let alcohol = &json["features"]["alcohol"];
    assert_eq!(alcohol["count"], 1599);
    assert_eq!(alcohol["missing"], 0);
    assert_eq!(
        alcohol["type_counts"]["fractional"].as_u64().unwrap()
            + alcohol["type_counts"]["integral"].as_u64().unwrap(),
        1599
    );
    assert_eq!(alcohol["min"], 8.4);
    assert_eq!(alcohol["max"], 14.9);
    // The data's README gives the mean alcohol of red wine: 10.4230.
    assert!((alcohol["mean"].as_f64().unwrap() - 10.4230).abs() < 5e-5);
    for q in ["0.01", "0.05", "0.25", "0.5", "0.75", "0.95", "0.99"] {
        assert!(alcohol["quantiles"][q].is_f64(), "quantile {q}");
    }
    assert!(alcohol["stddev"].is_f64() && alcohol["distinct_estimate"].is_f64());
    // Quality: integral, with exact frequent items (README: 5:681, 6:638, ...).
    let quality = &json["features"]["quality"];
    assert_eq!(quality["kind"], "integral");
    let top = &quality["frequent_items"][0];
    assert_eq!(
        (top["value"].as_i64(), top["estimate"].as_u64()),
        (Some(5), Some(681))
    );

    let table = run_ok(&["show", red_s]);
    assert!(
        table.contains("rows: 1599") && table.contains("alcohol"),
        "{table}"
    );

    run_ok(&["merge", red_s, white_s, "-o", both_s]);
    let merged: serde_json::Value =
        serde_json::from_str(&run_ok(&["show", both_s, "--json"])).unwrap();
    assert_eq!(merged["rows"], 1599 + 4898);
    let mean = merged["features"]["quality"]["mean"].as_f64().unwrap();
    let expected = (5.6360 * 1599.0 + 5.8779 * 4898.0) / (1599.0 + 4898.0);
    assert!((mean - expected).abs() < 1e-3, "{mean} vs {expected}");

    let html = dir.join("report.html");
    let report: serde_json::Value = serde_json::from_str(&run_ok(&[
        "compare",
        red_s,
        white_s,
        "--json",
        "--html",
        html.to_str().unwrap(),
    ]))
    .unwrap();
    assert_eq!(report["drift"], true);
    let sugar = &report["features"]["residual sugar"];
    assert_eq!(sugar["drift"], true);
    for key in [
        "method",
        "statistic",
        "threshold",
        "p_value",
        "ks",
        "psi",
        "js",
        "hellinger",
        "wasserstein_norm",
    ] {
        assert!(sugar.get(key).is_some(), "missing {key}: {sugar}");
    }
    let page = std::fs::read_to_string(&html).unwrap();
    assert!(page.contains("<svg") && !page.contains("<script"));
    let same: serde_json::Value =
        serde_json::from_str(&run_ok(&["compare", red_s, red_s, "--json"])).unwrap();
    assert_eq!(same["drift"], false);
    assert_eq!(same["drifted_share"], 0.0);
}

#[test]
fn bad_files_exit_1_with_a_message_naming_the_file() {
    let dir = tempdir("bad");
    let good = dir.join("good.sxp");
    run_ok(&[
        "profile",
        wine("winequality-red.csv").to_str().unwrap(),
        "-o",
        good.to_str().unwrap(),
    ]);
    let bytes = std::fs::read(&good).unwrap();
    let cases: Vec<(&str, Vec<u8>)> = vec![
        ("truncated.sxp", bytes[..bytes.len() / 2].to_vec()),
        ("empty.sxp", Vec::new()),
        ("text.sxp", b"fixed acidity;volatile acidity\n".to_vec()),
        ("flipped.sxp", {
            let mut b = bytes.clone();
            let i = b.len() - 100;
            b[i] ^= 0x10;
            b
        }),
    ];
    for (name, content) in cases {
        let path = dir.join(name);
        std::fs::write(&path, content).unwrap();
        let out = sextant(&["show", path.to_str().unwrap()]);
        assert_eq!(out.status.code(), Some(1), "{name}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains(name), "{name}: {err}");
        assert!(!err.contains("panicked"), "{name}: {err}");
    }
    let csv = dir.join("ragged.csv");
    std::fs::write(&csv, "a,b\n1,2\n3\n").unwrap();
    let out = sextant(&[
        "profile",
        csv.to_str().unwrap(),
        "-o",
        dir.join("x.sxp").to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("line 3"));
    let out = sextant(&["show", dir.join("missing.sxp").to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
}

#[test]
fn export_predictions_writes_csv_and_json_lines_with_filters() {
    use common::{Server, WINE, http};
    let dir = tempdir("export");
    let data = dir.join("data");
    let before = sextant::time::now_ms();
    let server = Server::start(&data);
    let mut ids = Vec::new();
    for _ in 0..3 {
        let (status, body) = http(server.port, "POST", "/predict", WINE).unwrap();
        assert_eq!(status, 200);
        let v: serde_json::Value = serde_json::from_str(&body).unwrap();
        ids.push(v["prediction_id"].as_str().unwrap().to_owned());
    }
    let fb = serde_json::json!({"prediction_id": ids[1], "actual": 7}).to_string();
    assert_eq!(http(server.port, "POST", "/feedback", &fb).unwrap().0, 200);
    server.stop();
    let data_s = data.to_str().unwrap();

    let csv = dir.join("all.csv");
    run_ok(&[
        "export-predictions",
        "--data-dir",
        data_s,
        "-o",
        csv.to_str().unwrap(),
    ]);
    let text = std::fs::read_to_string(&csv).unwrap();
    let mut lines = text.lines();
    let header: Vec<&str> = lines.next().unwrap().split(',').collect();
    assert_eq!(header[0], "prediction_id");
    assert!(
        header.contains(&"actual") && header.contains(&"alcohol_pct_vol"),
        "{header:?}"
    );
    let rows: Vec<Vec<&str>> = lines.map(|l| l.split(',').collect()).collect();
    assert_eq!(rows.len(), 3);
    let col = |name: &str| header.iter().position(|h| *h == name).unwrap();
    let mut exported: Vec<&str> = rows.iter().map(|r| r[0]).collect();
    exported.sort_unstable();
    let mut expected: Vec<&str> = ids.iter().map(String::as_str).collect();
    expected.sort_unstable();
    assert_eq!(exported, expected);
    let labelled: Vec<_> = rows
        .iter()
        .filter(|r| !r[col("actual")].is_empty())
        .collect();
    assert_eq!(labelled.len(), 1);
    assert_eq!(labelled[0][0], ids[1]);
    assert_eq!(labelled[0][col("actual")], "7");
    assert_eq!(labelled[0][col("alcohol_pct_vol")], "9.4");
    assert!(labelled[0][col("time")].ends_with('Z'));

    // JSON Lines, only predictions with feedback, unix-seconds bounds.
    let jsonl = dir.join("fb.jsonl");
    let since = (before / 1000 - 1).to_string();
    run_ok(&[
        "export-predictions",
        "--data-dir",
        data_s,
        "--since",
        &since,
        "--with-feedback",
        "-o",
        jsonl.to_str().unwrap(),
    ]);
    let text = std::fs::read_to_string(&jsonl).unwrap();
    let lines: Vec<serde_json::Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 1);
    assert_eq!(lines[0]["prediction_id"], ids[1].as_str());
    assert_eq!(lines[0]["features"]["ph"], 3.51);
    // --until before the traffic: nothing (RFC 3339 bound).
    let none = dir.join("none.csv");
    run_ok(&[
        "export-predictions",
        "--data-dir",
        data_s,
        "--until",
        "2020-01-01T00:00:00Z",
        "-o",
        none.to_str().unwrap(),
    ]);
    assert_eq!(
        std::fs::read_to_string(&none).unwrap().lines().count(),
        1,
        "header only"
    );
    // Usage errors (exit 2): a bad extension, a bad time, times the wrong way round;
    // a data error (exit 1): no log. None leaves a file behind.
    let out_csv = dir.join("o.csv");
    let out_s = out_csv.to_str().unwrap();
    let dir_s = dir.to_str().unwrap();
    for (code, args) in [
        (
            2,
            vec!["export-predictions", "--data-dir", data_s, "-o", "out.txt"],
        ),
        (
            2,
            vec![
                "export-predictions",
                "--data-dir",
                data_s,
                "--since",
                "yesterday",
                "-o",
                out_s,
            ],
        ),
        (
            2,
            vec![
                "export-predictions",
                "--data-dir",
                data_s,
                "--since",
                "2025-01-02T00:00:00Z",
                "--until",
                "2025-01-01T00:00:00Z",
                "-o",
                out_s,
            ],
        ),
        (
            1,
            vec!["export-predictions", "--data-dir", dir_s, "-o", out_s],
        ),
    ] {
        let out = sextant(&args);
        assert_eq!(out.status.code(), Some(code), "{args:?}");
        assert!(!out.stderr.is_empty());
        assert!(!out_csv.exists() && !dir.join("o.csv.sextant-tmp").exists());
    }
}

#[test]
fn an_output_that_is_an_input_is_refused_and_the_input_kept() {
    let dir = tempdir("overwrite");
    let csv = dir.join("victim.csv");
    std::fs::copy(wine("winequality-red.csv"), &csv).unwrap();
    let before = std::fs::read(&csv).unwrap();
    let csv_s = csv.to_str().unwrap();
    let out = sextant(&["profile", csv_s, "-o", csv_s]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("is also an input"));
    assert_eq!(std::fs::read(&csv).unwrap(), before, "the CSV was replaced");

    let sxp = dir.join("red.sxp");
    let sxp_s = sxp.to_str().unwrap();
    run_ok(&["profile", csv_s, "-o", sxp_s]);
    let profile = std::fs::read(&sxp).unwrap();
    // The same file by another name, too.
    let other_name = dir.join(".").join("red.sxp");
    for args in [
        vec!["merge", sxp_s, sxp_s, "-o", other_name.to_str().unwrap()],
        vec!["compare", sxp_s, sxp_s, "--html", sxp_s],
    ] {
        let out = sextant(&args);
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        assert_eq!(std::fs::read(&sxp).unwrap(), profile, "{args:?}");
    }
    let out = sextant(&["profile", csv_s, "--delimiter", "é", "-o", "x.sxp"]);
    assert_eq!(
        out.status.code(),
        Some(2),
        "a non-ASCII delimiter is a usage error"
    );
}

#[test]
fn json_lines_are_known_by_their_extension_in_any_case() {
    let dir = tempdir("jsonl-case");
    let path = dir.join("rows.JSONL");
    std::fs::write(&path, "{\"a\": 1}\n{\"a\": 2}\n").unwrap();
    let out = dir.join("rows.sxp");
    run_ok(&[
        "profile",
        path.to_str().unwrap(),
        "-o",
        out.to_str().unwrap(),
    ]);
    let json = run_ok(&["show", out.to_str().unwrap(), "--json"]);
    let json: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(json["rows"], 2, "{json}");
    assert_eq!(json["features"]["a"]["count"], 2, "{json}");
}

#[test]
fn comparing_profiles_without_a_feature_in_common_is_an_error() {
    let dir = tempdir("disjoint");
    let profile = |name: &str, csv: &str| {
        let input = dir.join(format!("{name}.csv"));
        std::fs::write(&input, csv).unwrap();
        let out = dir.join(format!("{name}.sxp"));
        run_ok(&[
            "profile",
            input.to_str().unwrap(),
            "-o",
            out.to_str().unwrap(),
        ]);
        out
    };
    let (a, b) = (profile("a", "x\n1\n2\n"), profile("b", "y\n1\n2\n"));
    let out = sextant(&["compare", a.to_str().unwrap(), b.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("no feature in common") && err.contains("x, y"),
        "{err}"
    );
}
