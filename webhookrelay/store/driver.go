package store

import (
	_ "modernc.org/sqlite" // registers "sqlite"
)

// driverName is the pure-Go SQLite driver in use; see README.md for why this one.
const driverName = "sqlite"
