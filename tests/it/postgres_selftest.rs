//! The PostgreSQL harness (`tests/support/postgres.rs`) against itself: a real server started by
//! the test, a table dumped with pg_dump, dropped, restored with psql, its row back.

use std::process::Command;

use crate::support::postgres::Postgres;

#[test]
fn a_dumped_table_dropped_and_restored_has_its_row_back() {
    let pg = Postgres::start();
    assert!(pg.url().starts_with("postgres://postgres@127.0.0.1:"));
    assert!(pg.url().ends_with(&format!(":{}/postgres", pg.port())));
    pg.psql("create table deploys (id int primary key, sha text not null)");
    pg.psql("insert into deploys values (7, 'abc123')");

    let dump = tempfile::NamedTempFile::new().expect("a dump file");
    let output = Command::new(Postgres::bin("pg_dump"))
        .args(["--no-owner", "--table", "deploys", "--file"])
        .arg(dump.path())
        .arg(pg.url())
        .output()
        .expect("pg_dump runs");
    assert!(
        output.status.success(),
        "pg_dump failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    let sql = std::fs::read_to_string(dump.path()).expect("the dump");
    assert!(sql.contains("CREATE TABLE public.deploys"), "{sql}");

    pg.psql("drop table deploys");
    assert_eq!(
        pg.psql("select count(*) from pg_tables where tablename = 'deploys'"),
        "0\n"
    );

    let output = Command::new(Postgres::bin("psql"))
        .args(["-X", "-q", "-v", "ON_ERROR_STOP=1", "-d"])
        .arg(pg.url())
        .arg("-f")
        .arg(dump.path())
        .output()
        .expect("psql runs");
    assert!(
        output.status.success(),
        "the restore failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert_eq!(pg.psql("select id, sha from deploys"), "7|abc123\n");
}

#[test]
#[should_panic(expected = "psql failed")]
fn a_failing_statement_panics_with_what_psql_said() {
    let pg = Postgres::start();
    pg.psql("select * from no_such_table");
}
