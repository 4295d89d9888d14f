# The wire protocol library lands here (see DESIGN.md section 2).
