"""The database: connections, SQL files, the embedded server, roles, grants and what vectorops owns."""
