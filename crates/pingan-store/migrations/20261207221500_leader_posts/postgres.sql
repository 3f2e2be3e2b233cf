-- Units gain a kind: an official's post that matters go to (`leader:TOWNSHIP:in_charge`, the
-- township's 分管领导; `leader:VILLAGE:liaison`, the village's 包村领导).
ALTER TABLE units DROP CONSTRAINT units_kind_check;
ALTER TABLE units ADD CONSTRAINT units_kind_check CHECK (kind IN ('department', 'provider', 'leader'));
