package probe

import (
	"net/http"
	"testing"
	"unicode/utf8"
)

// FuzzReadHealth: any answer is ready or an error, never both, never a
// panic; ready only for a 200/408 whose JSON says green or yellow; the
// error stays short whatever the body (it goes into a progress line).
func FuzzReadHealth(f *testing.F) {
	f.Add(200, []byte(`{"cluster_name":"c","status":"yellow","unassigned_shards":3}`))
	f.Add(200, []byte(`{"status":"red","unassigned_shards":2,"active_shards_percent_as_number":33.3}`))
	f.Add(503, []byte(`{"error":{"type":"master_not_discovered_exception","reason":null},"status":503}`))
	f.Add(401, []byte(`{"error":{"type":"security_exception","reason":"missing authentication credentials"},"status":401}`))
	f.Add(408, []byte(`{"status":"green","timed_out":true}`))
	f.Add(200, []byte(`Ok.`))
	f.Add(500, []byte{0xff, 0xfe})
	f.Add(503, []byte(`{"error":{"type":"x","reason":"`+string(make([]byte, 5000))+`"}}`))
	f.Fuzz(func(t *testing.T, code int, body []byte) {
		if len(body) > maxHealthBody {
			body = body[:maxHealthBody]
		}
		ok, err := readHealth(code, body)
		if ok == (err != nil) {
			t.Fatalf("ready %v with error %v", ok, err)
		}
		if ok && code != http.StatusOK && code != http.StatusRequestTimeout {
			t.Fatalf("ready on HTTP %d", code)
		}
		if err != nil && utf8.RuneCountInString(err.Error()) > 1200 {
			t.Fatalf("error of %d runes", utf8.RuneCountInString(err.Error()))
		}
	})
}
