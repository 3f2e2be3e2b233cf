-- The tallies gain rows for each channel and each category of the subtrees and own levels (keys
-- `facet:SCOPE:channel:CHANNEL` and `facet:SCOPE:category:CODE`). The tallies and the changes not
-- yet folded are emptied here and the engine counts every stored case in again, facets included.
DELETE FROM case_tally_changes;
DELETE FROM case_tallies;
