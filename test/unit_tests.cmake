# Unit tests: keel_add_gtest(...) entries, one per area.
