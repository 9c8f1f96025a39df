// Package secretbox keeps the secrets OrgStack must store in a form it can
// read back (webhook signing secrets) encrypted with the operator's key
// (ORGSTACK_SECRET_KEY): AES-256-GCM from the standard library, a random
// nonce per secret, the text "v1." and the base64 of nonce and ciphertext.
package secretbox

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"strings"

	"github.com/orgstack/orgstack/ports"
)

// MinKeyLength is the shortest key accepted, in bytes of text.
const MinKeyLength = 32

// Box implements ports.SecretSealer.
type Box struct{ aead cipher.AEAD }

var _ ports.SecretSealer = (*Box)(nil)

// New returns a Box for key: text of at least MinKeyLength bytes (for
// example the output of `openssl rand -base64 32`); the AES key is its
// SHA-256.
func New(key string) (*Box, error) {
	if len(key) < MinKeyLength {
		return nil, errors.New("the secret key must be at least 32 characters (for example: openssl rand -base64 32)")
	}
	k := sha256.Sum256([]byte(key))
	block, err := aes.NewCipher(k[:])
	if err != nil {
		return nil, err
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, err
	}
	return &Box{aead: aead}, nil
}

// Seal encrypts plain.
func (b *Box) Seal(plain string) (string, error) {
	nonce := make([]byte, b.aead.NonceSize())
	if _, err := rand.Read(nonce); err != nil {
		return "", err
	}
	return "v1." + base64.RawStdEncoding.EncodeToString(b.aead.Seal(nonce, nonce, []byte(plain), nil)), nil
}

// Open decrypts what Seal returned; a secret sealed with another key is an
// error.
func (b *Box) Open(sealed string) (string, error) {
	raw, err := base64.RawStdEncoding.DecodeString(strings.TrimPrefix(sealed, "v1."))
	if err != nil || !strings.HasPrefix(sealed, "v1.") || len(raw) < b.aead.NonceSize() {
		return "", errors.New("secretbox: not a sealed secret")
	}
	n := b.aead.NonceSize()
	plain, err := b.aead.Open(nil, raw[:n], raw[n:], nil)
	if err != nil {
		return "", errors.New("secretbox: the secret was sealed with another key")
	}
	return string(plain), nil
}
