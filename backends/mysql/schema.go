package mysql

import (
	"context"
)

// Celery's two tables, in metadata order, and the sequences of their ids.
var (
	tableNames    = [2]string{"celery_taskmeta", "celery_tasksetmeta"}
	sequenceNames = [2]string{"task_id_sequence", "taskset_id_sequence"}
)

// initSchema renders the statements of create_all for this server and
// database: SQLAlchemy 1.4's DDL for Celery's models (TaskExtended's
// columns included, whatever result_extended says, because its Table is
// extended at import).
func (b *backend) initSchema() {
	db := string(appendString(nil, b.cfg.Database, b.dialect.noBackslash))
	id := "id INTEGER NOT NULL AUTO_INCREMENT"
	if b.dialect.sequences {
		id = "id INTEGER NOT NULL" // the Sequence default replaces AUTO_INCREMENT
	}
	columns := [2][]string{
		{id, "task_id VARCHAR(155)", "status VARCHAR(50)", "result BLOB", "date_done DATETIME",
			"traceback TEXT", "name VARCHAR(155)", "args BLOB", "kwargs BLOB", "worker VARCHAR(155)",
			"retries INTEGER", "queue VARCHAR(155)", "PRIMARY KEY (id)", "UNIQUE (task_id)"},
		{id, "taskset_id VARCHAR(155)", "result BLOB", "date_done DATETIME",
			"PRIMARY KEY (id)", "UNIQUE (taskset_id)"},
	}
	for i, t := range tableNames {
		// MySQLDialect.has_table
		b.hasTable[i] = "SELECT COUNT(*) FROM information_schema.tables WHERE table_schema = " + db +
			" AND table_name = '" + t + "'"
		// MySQLDialect.has_sequence
		b.hasSequence[i] = "SELECT TABLE_NAME FROM INFORMATION_SCHEMA.TABLES WHERE TABLE_TYPE='SEQUENCE' and TABLE_NAME='" +
			sequenceNames[i] + "' AND TABLE_SCHEMA=" + db
		// DDLCompiler.visit_create_table: "\nCREATE TABLE t (\n\tcol, \n\tcol\n)\n\n".
		// MariaDB's general log trims the surrounding newlines; the wire has them.
		s := "\nCREATE TABLE " + t + " ("
		for j, c := range columns[i] {
			if j > 0 {
				s += ", "
			}
			s += "\n\t" + c
		}
		b.createTable[i] = s + "\n)\n\n"
		b.createIndex[i] = "CREATE INDEX ix_" + t + "_date_done ON " + t + " (date_done)"
	}
}

// createAll runs ResultModelBase.metadata.create_all(engine) on c: it checks
// for both tables, creates the missing ones (each with its sequence first,
// on MariaDB, and its date_done index after, from 5.6.3) and commits. The
// pool's reset ROLLBACK is the caller's.
func (b *backend) createAll(ctx context.Context, c *conn) error {
	var missing [2]bool
	for i := range tableNames {
		n, err := c.queryInt(ctx, b.hasTable[i])
		if err != nil {
			return err
		}
		missing[i] = n == 0
	}
	for i := range tableNames {
		if !missing[i] {
			continue
		}
		if b.dialect.sequences {
			found, err := c.query(ctx, b.hasSequence[i], c.scratch(1))
			if err != nil {
				return err
			}
			if !found {
				if _, err := c.exec(ctx, "CREATE SEQUENCE "+sequenceNames[i]+" START WITH 1"); err != nil {
					return err
				}
			}
		}
		if _, err := c.exec(ctx, b.createTable[i]); err != nil {
			return err
		}
		if b.indexDateDone() {
			if _, err := c.exec(ctx, b.createIndex[i]); err != nil {
				return err
			}
		}
	}
	_, err := c.exec(ctx, stmtCommit)
	return err
}
