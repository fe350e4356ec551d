//! The command line as a user meets it: the real binary, run as a process.

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
    for sub in ["serve", "profile", "show", "merge", "compare"] {
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

fn tempdir(name: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("sextant-cli-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
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
