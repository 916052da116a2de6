//! Decides whether the PostgreSQL variants of the tests run: with `CODEX_TEST_DATABASE_URL`
//! set, or in CI (`CI` set), where a missing server must fail them rather than skip them
//! unseen. Elsewhere they are compiled as ignored, so the test runner reports them as such.

fn main() {
    println!("cargo::rustc-check-cfg=cfg(codex_postgres)");
    println!("cargo::rerun-if-env-changed=CODEX_TEST_DATABASE_URL");
    println!("cargo::rerun-if-env-changed=CI");
    let set = |name: &str| std::env::var(name).is_ok_and(|v| !v.trim().is_empty());
    if set("CODEX_TEST_DATABASE_URL") || set("CI") {
        println!("cargo::rustc-cfg=codex_postgres");
    }
}
