-- No query reads invoice lines by subscription: every read goes through the invoice. The index
-- only cost each invoice run a random B-tree insert per line (about a fifth of the insert time
-- at a million lines), so it goes; a route that needs it later adds it back.
drop index invoice_lines_subscription;
