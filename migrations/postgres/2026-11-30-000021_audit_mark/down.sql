DROP FUNCTION audit_mark();
