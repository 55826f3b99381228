package vault

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
)

// TokenPrefix starts every user token, so that a token in a log or a
// config file is recognisable.
const TokenPrefix = "cgu_"

// ErrUnknownToken is returned by [Store.TokenUser] for a token the store
// does not hold.
var ErrUnknownToken = errors.New("unknown user token")

// CreateToken makes a new bearer token bound to the user and returns it;
// the store keeps only its sha256. A request carrying it is confined to
// that user (see package serve). Deleting the user revokes it.
func (s *Store) CreateToken(ctx context.Context, userID string) (string, error) {
	var b [24]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never returns an error
	tok := TokenPrefix + hex.EncodeToString(b[:])
	err := s.tx(ctx, func(tx *sql.Tx) error {
		var exists bool
		if err := tx.QueryRowContext(ctx, `SELECT EXISTS (SELECT 1 FROM users WHERE id = ?)`, userID).Scan(&exists); err != nil {
			return err
		}
		if !exists {
			return fmt.Errorf("user %q: %w", userID, ErrNotFound)
		}
		_, err := tx.ExecContext(ctx, `INSERT INTO tokens (hash, user_id, created) VALUES (?, ?, ?)`, tokenHash(tok), userID, s.now().UTC().Format(timeFormat))
		return err
	})
	if err != nil {
		return "", fmt.Errorf("create token for user %q: %w", userID, err)
	}
	return tok, nil
}

// TokenUser returns the id of the user a token is bound to, or an error
// matching [ErrUnknownToken].
func (s *Store) TokenUser(ctx context.Context, token string) (string, error) {
	if !strings.HasPrefix(token, TokenPrefix) {
		return "", ErrUnknownToken
	}
	var id string
	err := s.db.QueryRowContext(ctx, `SELECT user_id FROM tokens WHERE hash = ?`, tokenHash(token)).Scan(&id)
	if errors.Is(err, sql.ErrNoRows) {
		return "", ErrUnknownToken
	}
	if err != nil {
		return "", fmt.Errorf("look up token: %w", err)
	}
	return id, nil
}

// RevokeTokens deletes every token of a user and reports how many there
// were.
func (s *Store) RevokeTokens(ctx context.Context, userID string) (int, error) {
	res, err := s.db.ExecContext(ctx, `DELETE FROM tokens WHERE user_id = ?`, userID)
	if err != nil {
		return 0, fmt.Errorf("revoke tokens of user %q: %w", userID, err)
	}
	n, _ := res.RowsAffected() // sqlite always reports it
	return int(n), nil
}

func tokenHash(tok string) string {
	h := sha256.Sum256([]byte(tok))
	return hex.EncodeToString(h[:])
}
