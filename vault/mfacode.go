package vault

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/99designs/keyring"
)

// MFACode is the last code STS accepted for an MFA device, kept under
// "<service>:mfa-last:<hash of the serial>". STS takes each code once, and
// broker's processes are too short-lived to remember one themselves. A
// used code opens nothing, so keeping it is no risk; the item is still in
// the keychain, where broker keeps every code and key it holds.
type MFACode struct {
	Serial string    // the device's ARN or serial number
	Code   string    // the code last used
	Used   time.Time // when STS accepted it
}

type storedMFACode struct {
	V      int       `json:"v"`
	Serial string    `json:"serial"`
	Code   string    `json:"code"`
	Used   time.Time `json:"used"`
}

const (
	kindMFACode   = "mfa-last"
	mfaCodeFormat = 1
)

// mfaCodeName names a device's item by a hash: serials are long ARNs.
func mfaCodeName(serial string) string {
	h := sha256.Sum256([]byte(serial))
	return hex.EncodeToString(h[:16])
}

// MFACode returns the last code used for the device serial, or an error
// wrapping ErrNotFound. One that does not decode is reported as not found.
func (v *Vault) MFACode(serial string) (MFACode, error) {
	item, err := v.get(v.itemKey(kindMFACode, mfaCodeName(serial)))
	if err != nil {
		return MFACode{}, fmt.Errorf("reading the last MFA code used for %s: %w", serial, err)
	}
	var s storedMFACode
	if json.Unmarshal(item.Data, &s) != nil || s.V != mfaCodeFormat || s.Serial != serial || s.Code == "" {
		return MFACode{}, fmt.Errorf("the last MFA code used for %s is stored in a form broker cannot read: %w", serial, ErrNotFound)
	}
	return MFACode{Serial: s.Serial, Code: s.Code, Used: s.Used}, nil
}

// SetMFACode stores c as the last code used for c.Serial, replacing any
// earlier one.
func (v *Vault) SetMFACode(c MFACode) error {
	if c.Serial == "" || c.Code == "" {
		return errors.New("storing the last MFA code used: the device and the code are required")
	}
	data, err := json.Marshal(storedMFACode{V: mfaCodeFormat, Serial: c.Serial, Code: c.Code, Used: c.Used})
	if err != nil {
		return fmt.Errorf("storing the last MFA code used for %s: encoding: %w", c.Serial, err)
	}
	err = v.set(keyring.Item{
		Key:         v.itemKey(kindMFACode, mfaCodeName(c.Serial)),
		Data:        data,
		Label:       fmt.Sprintf("%s: last MFA code used for %s", v.service, c.Serial),
		Description: "AWS MFA code already used",
	})
	if err != nil {
		return fmt.Errorf("storing the last MFA code used for %s: %w", c.Serial, err)
	}
	return nil
}

// RemoveMFACode forgets the last code used for serial; an absent one is not
// an error.
func (v *Vault) RemoveMFACode(serial string) error {
	key := v.itemKey(kindMFACode, mfaCodeName(serial))
	// Not every backend reports removing an absent item, so look first.
	if _, err := v.get(key); errors.Is(err, ErrNotFound) {
		return nil
	}
	if err := v.remove(key); err != nil {
		return fmt.Errorf("removing the last MFA code used for %s: %w", serial, err)
	}
	return nil
}
