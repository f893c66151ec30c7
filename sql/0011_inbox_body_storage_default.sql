-- Undoes 0009, which did nothing for the rows it was written for. Postgres moves values out of
-- line only once a row passes about 2 KB (TOAST_TUPLE_THRESHOLD), whatever `toast_tuple_target`
-- says, so bodies of a few hundred bytes stayed inline (checked: 600-byte bodies, no TOAST pages);
-- and for a row past 2 KB, the 128-byte target moved every other text column out as well, each
-- then read back from the TOAST table. The apply gain reported with 0009 was noise, of the size
-- three interleaved bench pairs can show.
alter table inbox reset (toast_tuple_target);
alter table inbox alter column body set storage extended;
