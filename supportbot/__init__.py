"""supportbot: a Telegram companion for people in therapy."""
