package dhcp6

import (
	"bytes"
	"crypto/hmac"
	"crypto/md5"
	"fmt"
)

// reconfigureKeyInfoLen is the length of the authentication information of
// the Reconfigure Key Authentication Protocol: a type octet and a key or
// digest (RFC 8415 section 20.4.1).
const reconfigureKeyInfoLen = 1 + ReconfigureKeyLen

// ReconfigureKey returns the Reconfigure Key a server sent in m, a Reply
// (RFC 8415 section 20.4.2: the server includes it in the Reply that
// binds, once the client sent Reconfigure Accept). It is in an
// Authentication option with protocol 3, algorithm 1 (HMAC-MD5), RDM 0
// and authentication information of type 1 with the 16-byte key (section
// 20.4.1). The error wraps ErrAuthMissing or ErrAuthProtocol.
//
// The engine keeps the key, and m.Auth.ReplayDetection as the last replay
// detection value seen from this server (section 20.3), with the lease.
func (m *Message) ReconfigureKey() ([ReconfigureKeyLen]byte, error) {
	v, err := m.reconfigureKeyValue(ReconfigureKeyValue)
	if err != nil {
		return [ReconfigureKeyLen]byte{}, err
	}
	return [ReconfigureKeyLen]byte(v), nil
}

// VerifyReconfigure checks the authentication of m, a Reconfigure decoded
// from wire, against key, the Reconfigure Key of the server's Reply (RFC
// 8415 sections 16.11 and 20.4.3): m must carry an Authentication option of
// the Reconfigure Key Authentication Protocol with information of type 2,
// whose value is the HMAC-MD5 with key of the whole of wire with that value
// set to zero (section 20.4.2). The digests are compared in constant time.
// The error wraps ErrAuthMissing, ErrAuthProtocol or ErrAuthDigest.
//
// What it leaves to the engine (section 16.11 and 18.2.11): that the
// message is a Reconfigure from the server of the lease, for this client;
// that m.Auth.ReplayDetection is above the last value seen from the server
// (section 20.3), which then becomes the last value; that m.ReconfMsg is
// Renew, Rebind or Information-request.
func (m *Message) VerifyReconfigure(wire []byte, key [ReconfigureKeyLen]byte) error {
	digest, err := m.reconfigureKeyValue(ReconfigureKeyHMACMD5)
	if err != nil {
		return err
	}
	off := m.Auth.InfoOffset + 1
	if off < 0 || off+ReconfigureKeyLen > len(wire) || !bytes.Equal(wire[off:off+ReconfigureKeyLen], digest) {
		return fmt.Errorf("authentication information at %d is not in the %d bytes given: %w", m.Auth.InfoOffset, len(wire), ErrAuthDigest)
	}
	if !hmac.Equal(reconfigureDigest(wire, off, key), digest) {
		return fmt.Errorf("reconfigure with replay detection %d: %w", m.Auth.ReplayDetection, ErrAuthDigest)
	}
	return nil
}

// SignReconfigure writes into wire, an encoded message whose first
// Authentication option is ReconfigureDigestAuth's, the HMAC-MD5 with key
// that VerifyReconfigure checks (RFC 8415 section 20.4.2). Test servers
// use it; a wrong key makes a Reconfigure the client must drop. The error
// wraps what Unmarshal or VerifyReconfigure would say.
func SignReconfigure(wire []byte, key [ReconfigureKeyLen]byte) error {
	var m Message
	if err := m.Unmarshal(wire); err != nil {
		return fmt.Errorf("sign reconfigure: %w", err)
	}
	if _, err := m.reconfigureKeyValue(ReconfigureKeyHMACMD5); err != nil {
		return fmt.Errorf("sign reconfigure: %w", err)
	}
	off := m.Auth.InfoOffset + 1
	copy(wire[off:], reconfigureDigest(wire, off, key))
	return nil
}

// ReconfigureKeyAuth returns the Authentication option that carries key in
// a Reply (RFC 8415 section 20.4.1, information type 1).
func ReconfigureKeyAuth(replay uint64, key [ReconfigureKeyLen]byte) Auth {
	return reconfigureKeyAuth(replay, ReconfigureKeyValue, key[:])
}

// ReconfigureDigestAuth returns the Authentication option of a
// Reconfigure (RFC 8415 section 20.4.1, information type 2) with the
// digest zero, for SignReconfigure to fill in once the message is encoded.
func ReconfigureDigestAuth(replay uint64) Auth {
	return reconfigureKeyAuth(replay, ReconfigureKeyHMACMD5, make([]byte, ReconfigureKeyLen))
}

func reconfigureKeyAuth(replay uint64, infoType uint8, value []byte) Auth {
	return Auth{
		Protocol:        AuthProtocolReconfigureKey,
		Algorithm:       AuthAlgorithmHMACMD5,
		RDM:             AuthRDMCounter,
		ReplayDetection: replay,
		Info:            append([]byte{infoType}, value...),
	}
}

// reconfigureKeyValue returns the 16-byte value of m's Authentication
// option when it follows the Reconfigure Key Authentication Protocol with
// information of type infoType (RFC 8415 section 20.4.1).
func (m *Message) reconfigureKeyValue(infoType uint8) ([]byte, error) {
	if !m.HasAuth {
		return nil, ErrAuthMissing
	}
	a := &m.Auth
	if a.Protocol != AuthProtocolReconfigureKey || a.Algorithm != AuthAlgorithmHMACMD5 || a.RDM != AuthRDMCounter ||
		len(a.Info) != reconfigureKeyInfoLen || a.Info[0] != infoType {
		return nil, fmt.Errorf("protocol %d, algorithm %d, RDM %d, %d bytes of information (type %d wanted): %w",
			a.Protocol, a.Algorithm, a.RDM, len(a.Info), infoType, ErrAuthProtocol)
	}
	return a.Info[1:], nil
}

// reconfigureDigest returns the HMAC-MD5 with key of wire with the 16
// bytes at off taken as zero (RFC 8415 section 20.4.2), without changing
// wire.
func reconfigureDigest(wire []byte, off int, key [ReconfigureKeyLen]byte) []byte {
	var zero [ReconfigureKeyLen]byte
	h := hmac.New(md5.New, key[:])
	h.Write(wire[:off])
	h.Write(zero[:])
	h.Write(wire[off+ReconfigureKeyLen:])
	return h.Sum(nil)
}
