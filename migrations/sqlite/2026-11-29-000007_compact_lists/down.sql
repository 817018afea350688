-- The compact lists are what the service writes anyway; there is nothing to undo.
SELECT 1;
