package broker

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// TestSTSAnswerBounds: an answer broker could not hand out sanely is
// refused and not cached: a body far over 1 MiB (read no further than the
// bound), a token longer than any STS hands out, an expiry far later than
// asked for.
func TestSTSAnswerBounds(t *testing.T) {
	exp := time.Now().Add(8 * time.Hour).UTC().Format(time.RFC3339)
	var written atomic.Int64
	huge := func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/xml")
		fmt.Fprint(w, `<GetSessionTokenResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/"><GetSessionTokenResult><Credentials><SessionToken>`)
		chunk := strings.Repeat("A", 64<<10)
		for range 200 << 20 / len(chunk) { // 200 MiB
			n, err := fmt.Fprint(w, chunk)
			written.Add(int64(n))
			if err != nil {
				return
			}
		}
	}
	tests := []struct {
		name    string
		handler http.HandlerFunc
		want    string
	}{
		{"200 MiB body", huge, "larger than 1 MiB"},
		{"64 KiB token", stsXML(http.StatusOK, sessionXML("ASIAHOSTILESESSION01", hostileSessionSecret, strings.Repeat("T", 64<<10), exp)), "credentials longer than any STS hands out"},
		{"long key ID", stsXML(http.StatusOK, sessionXML("ASIA"+strings.Repeat("0", 200), hostileSessionSecret, "token", exp)), "credentials longer than any STS hands out"},
		{"Expiration 9999-12-31", stsXML(http.StatusOK, sessionXML("ASIAHOSTILESESSION01", hostileSessionSecret, "token", "9999-12-31T23:59:59Z")), "but 8h0m0s was asked for"},
		{"Expiration a day off", stsXML(http.StatusOK, sessionXML("ASIAHOSTILESESSION01", hostileSessionSecret, "token", time.Now().Add(32*time.Hour).UTC().Format(time.RFC3339))), "but 8h0m0s was asked for"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newHostileSTS(t, tt.handler)
			b := hostileBroker(t, f.URL)
			_, err := b.Credentials(context.Background(), "dev")
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err = %v; want one saying %q", err, tt.want)
			}
			if strings.Contains(err.Error(), hostileSessionSecret) || len(err.Error()) > 1000 {
				t.Errorf("the error holds the secret or the answer: %.200s", err)
			}
			if all, _ := b.Vault.Sessions(); len(all) != 0 {
				t.Errorf("%d sessions cached", len(all))
			}
		})
	}
	// The client stopped reading at the bound: the fake could not write
	// much more than the bound and the socket buffers hold.
	if n := written.Load(); n > 32<<20 {
		t.Errorf("the fake wrote %d MiB before broker stopped reading", n>>20)
	}
	// A good answer still passes.
	b := hostileBroker(t, newHostileSTS(t, goodSession()).URL)
	if _, err := b.Credentials(context.Background(), "dev"); err != nil {
		t.Fatal(err)
	}
}
