-- 0005_item_errors.sql — every problem of an invalid row, not only the
-- first: items.errors is a JSON array of {"field","code","message"} (field
-- names, codes and fixed messages; never a value), in the order the mapper
-- found them. error_code and error keep the first, as before; rows staged
-- before this version, and the cloud's answers, have errors NULL and are
-- shown from those two.
ALTER TABLE items ADD COLUMN errors TEXT;
