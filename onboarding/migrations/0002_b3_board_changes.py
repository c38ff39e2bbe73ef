"""The board's change log (``BoardChange``) and the triggers that fill it.

Every write to a student (``accounts_enrolment``), their repository
(``repositories_studentrepository``) or a build (``builds_build``) adds an entry for its
course, from the database itself: a bare ``update()`` or ``bulk_create()`` is seen as surely
as a ``save()``. PostgreSQL logs once per statement and course (transition tables) and skips
updates that changed nothing; SQLite (the embedded default) logs once per row. Only inserts:
writers of one course share no row, so nothing waits on a hot lock. A trigger on the log
keeps each course's newest 1024 entries (pruned at every 128th entry; on PostgreSQL it skips
rows another transaction is pruning, never waits).
"""

from typing import Any

from django.db import migrations, models

LOG = "onboarding_boardchange"
ENROLMENT = "accounts_enrolment"
# table -> how a row names its course
WATCHED = {
    ENROLMENT: "course",
    "repositories_studentrepository": "enrolment",
    "builds_build": "enrolment",
}
KEPT = 1024
PRUNE_EVERY = 128

POSTGRES_FUNCTIONS = f"""
CREATE OR REPLACE FUNCTION hc_board_change_by_course() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        INSERT INTO {LOG} (course_id) SELECT DISTINCT n.course_id FROM new_rows n;
    ELSIF TG_OP = 'UPDATE' THEN
        INSERT INTO {LOG} (course_id)
            SELECT n.course_id FROM new_rows n JOIN old_rows o ON o.id = n.id
                WHERE n IS DISTINCT FROM o
            UNION
            SELECT o.course_id FROM new_rows n JOIN old_rows o ON o.id = n.id
                WHERE n IS DISTINCT FROM o;
    ELSE
        INSERT INTO {LOG} (course_id) SELECT DISTINCT o.course_id FROM old_rows o;
    END IF;
    RETURN NULL;
END $$;

CREATE OR REPLACE FUNCTION hc_board_change_by_enrolment() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        INSERT INTO {LOG} (course_id)
            SELECT DISTINCT e.course_id FROM new_rows n JOIN {ENROLMENT} e
                ON e.id = n.enrolment_id;
    ELSIF TG_OP = 'UPDATE' THEN
        INSERT INTO {LOG} (course_id)
            SELECT DISTINCT e.course_id FROM new_rows n JOIN old_rows o ON o.id = n.id
                JOIN {ENROLMENT} e ON e.id IN (n.enrolment_id, o.enrolment_id)
                WHERE n IS DISTINCT FROM o;
    ELSE
        INSERT INTO {LOG} (course_id)
            SELECT DISTINCT e.course_id FROM old_rows o JOIN {ENROLMENT} e
                ON e.id = o.enrolment_id;
    END IF;
    RETURN NULL;
END $$;

CREATE OR REPLACE FUNCTION hc_board_change_prune() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    DELETE FROM {LOG} WHERE id IN (
        SELECT id FROM {LOG} WHERE course_id = NEW.course_id AND id <= (
            SELECT id FROM {LOG} WHERE course_id = NEW.course_id
                ORDER BY id DESC OFFSET {KEPT} LIMIT 1)
        FOR UPDATE SKIP LOCKED);
    RETURN NULL;
END $$;

CREATE TRIGGER hc_board_change_prune AFTER INSERT ON {LOG}
    FOR EACH ROW WHEN (NEW.id % {PRUNE_EVERY} = 0) EXECUTE FUNCTION hc_board_change_prune();
"""


def _postgres_triggers() -> list[str]:
    statements = [POSTGRES_FUNCTIONS]
    for table, by in WATCHED.items():
        function = f"hc_board_change_by_{by}()"
        statements += [
            f"CREATE TRIGGER hc_board_ins AFTER INSERT ON {table} REFERENCING NEW TABLE AS"
            f" new_rows FOR EACH STATEMENT EXECUTE FUNCTION {function};",
            f"CREATE TRIGGER hc_board_upd AFTER UPDATE ON {table} REFERENCING OLD TABLE AS"
            f" old_rows NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION {function};",
            f"CREATE TRIGGER hc_board_del AFTER DELETE ON {table} REFERENCING OLD TABLE AS"
            f" old_rows FOR EACH STATEMENT EXECUTE FUNCTION {function};",
        ]
    return statements


def _sqlite_course(row: str, by: str) -> str:
    if by == "course":
        return f"SELECT {row}.course_id"
    return f"SELECT course_id FROM {ENROLMENT} WHERE id = {row}.enrolment_id"


def _sqlite_triggers() -> list[str]:
    statements = [
        f"CREATE TRIGGER hc_board_change_prune AFTER INSERT ON {LOG}"
        f" WHEN NEW.id % {PRUNE_EVERY} = 0 BEGIN"
        f" DELETE FROM {LOG} WHERE course_id = NEW.course_id AND id <= ("
        f"SELECT id FROM {LOG} WHERE course_id = NEW.course_id"
        f" ORDER BY id DESC LIMIT 1 OFFSET {KEPT}); END;"
    ]
    for table, by in WATCHED.items():
        insert = f"INSERT INTO {LOG} (course_id)"
        statements += [
            f"CREATE TRIGGER hc_board_ins_{table} AFTER INSERT ON {table} BEGIN"
            f" {insert} {_sqlite_course('NEW', by)}; END;",
            f"CREATE TRIGGER hc_board_upd_{table} AFTER UPDATE ON {table} BEGIN"
            f" {insert} {_sqlite_course('NEW', by)} UNION {_sqlite_course('OLD', by)}; END;",
            f"CREATE TRIGGER hc_board_del_{table} AFTER DELETE ON {table} BEGIN"
            f" {insert} {_sqlite_course('OLD', by)}; END;",
        ]
    return statements


def create_triggers(apps: Any, schema_editor: Any) -> None:
    vendor = schema_editor.connection.vendor
    if vendor == "postgresql":
        statements = _postgres_triggers()
    elif vendor == "sqlite":
        statements = _sqlite_triggers()
    else:
        raise RuntimeError(f"No board triggers for {vendor}: the board's ETag would go stale.")
    for statement in statements:
        schema_editor.execute(statement, params=None)


def drop_triggers(apps: Any, schema_editor: Any) -> None:
    vendor = schema_editor.connection.vendor
    for table in WATCHED:
        for event in ("ins", "upd", "del"):
            if vendor == "postgresql":
                schema_editor.execute(f"DROP TRIGGER IF EXISTS hc_board_{event} ON {table};")
            else:
                schema_editor.execute(f"DROP TRIGGER IF EXISTS hc_board_{event}_{table};")
    if vendor == "postgresql":
        schema_editor.execute(
            "DROP FUNCTION IF EXISTS hc_board_change_by_course(), "
            "hc_board_change_by_enrolment() CASCADE;"
        )
        schema_editor.execute("DROP FUNCTION IF EXISTS hc_board_change_prune() CASCADE;")


class Migration(migrations.Migration):
    dependencies = [
        ("onboarding", "0001_initial"),
        ("accounts", "0009_pages2_bulk_lines_read"),
        ("builds", "0001_initial"),
        ("repositories", "0003_desired_recorded_state"),
    ]

    operations = [
        migrations.CreateModel(
            name="BoardChange",
            fields=[
                ("id", models.BigAutoField(primary_key=True, serialize=False)),
                ("course_id", models.BigIntegerField()),
            ],
            options={
                "indexes": [models.Index(fields=["course_id", "id"], name="board_change_course")],
            },
        ),
        migrations.RunPython(create_triggers, drop_triggers),
    ]
