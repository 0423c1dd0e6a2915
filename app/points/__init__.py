"""The points ledger (党员积分制): a member's 我的积分; for admins the rankings and their export,
each member's ledger with its 更正 step, and the rules per org node."""
