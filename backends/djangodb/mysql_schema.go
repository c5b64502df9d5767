package djangodb

import (
	"context"
)

// mysqlTables are the end state of django_celery_results' migrations
// 0001–0011 on MySQL, in the DDL Django's schema editor writes (column
// order as the ALTERs leave it; SHOW CREATE TABLE matches a migrated
// database), with migration 0009's named indexes.
var mysqlTables = []tableDDL{
	{tableTask, "CREATE TABLE `django_celery_results_taskresult` (`id` integer AUTO_INCREMENT NOT NULL PRIMARY KEY, `task_id` varchar(255) NOT NULL UNIQUE, `status` varchar(50) NOT NULL, `content_type` varchar(128) NOT NULL, `content_encoding` varchar(64) NOT NULL, `result` longtext NULL, `date_done` datetime(6) NOT NULL, `traceback` longtext NULL, `meta` longtext NULL, `task_args` longtext NULL, `task_kwargs` longtext NULL, `task_name` varchar(255) NULL, `worker` varchar(100) NULL, `date_created` datetime(6) NOT NULL, `periodic_task_name` varchar(255) NULL)", []string{
		"CREATE INDEX `django_cele_task_na_08aec9_idx` ON `django_celery_results_taskresult` (`task_name`)",
		"CREATE INDEX `django_cele_status_9b6201_idx` ON `django_celery_results_taskresult` (`status`)",
		"CREATE INDEX `django_cele_worker_d54dd8_idx` ON `django_celery_results_taskresult` (`worker`)",
		"CREATE INDEX `django_cele_date_cr_f04a50_idx` ON `django_celery_results_taskresult` (`date_created`)",
		"CREATE INDEX `django_cele_date_do_f59aad_idx` ON `django_celery_results_taskresult` (`date_done`)",
	}},
	{tableChord, "CREATE TABLE `django_celery_results_chordcounter` (`id` integer AUTO_INCREMENT NOT NULL PRIMARY KEY, `group_id` varchar(255) NOT NULL UNIQUE, `sub_tasks` longtext NOT NULL, `count` integer UNSIGNED NOT NULL CHECK (`count` >= 0))", nil},
	{tableGroup, "CREATE TABLE `django_celery_results_groupresult` (`id` integer AUTO_INCREMENT NOT NULL PRIMARY KEY, `group_id` varchar(255) NOT NULL UNIQUE, `date_created` datetime(6) NOT NULL, `date_done` datetime(6) NOT NULL, `content_type` varchar(128) NOT NULL, `content_encoding` varchar(64) NOT NULL, `result` longtext NULL)", []string{
		"CREATE INDEX `django_cele_date_cr_bd6c1d_idx` ON `django_celery_results_groupresult` (`date_created`)",
		"CREATE INDEX `django_cele_date_do_caae0e_idx` ON `django_celery_results_groupresult` (`date_done`)",
	}},
}

func (d *mysqlDialect) tables() []tableDDL { return mysqlTables }

func (d *mysqlDialect) createMigrations() string {
	return "CREATE TABLE `django_migrations` (`id` integer AUTO_INCREMENT NOT NULL PRIMARY KEY, `app` varchar(255) NOT NULL, `name` varchar(255) NOT NULL, `applied` datetime(6) NOT NULL)"
}

func (d *mysqlDialect) fromDual() string { return " FROM DUAL" }

func (d *mysqlDialect) createDatabase(ctx context.Context, a *conn) error {
	_, err := a.exec(ctx, "CREATE DATABASE IF NOT EXISTS `"+d.cfg.Database+"`")
	return err
}

func (d *mysqlDialect) schemaFilter() string {
	return "table_schema = " + string(d.appendString(nil, d.cfg.Database))
}

func (d *mysqlDialect) dateDoneIndexCount(table, name string, any bool) string {
	s := "SELECT COUNT(*) FROM information_schema.statistics WHERE " + d.schemaFilter() + " AND table_name = '" + table + "'"
	if any {
		return s + " AND column_name = 'date_done'"
	}
	return s + " AND index_name = '" + name + "'"
}

func (d *mysqlDialect) createIndex(table, name string) string {
	return "CREATE INDEX `" + name + "` ON `" + table + "` (`date_done`)"
}

func (d *mysqlDialect) dropIndex(table, name string) string {
	return "DROP INDEX `" + name + "` ON `" + table + "`"
}
