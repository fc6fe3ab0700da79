package moto

import "testing"

func TestFixErrorBody(t *testing.T) {
	tests := []struct{ name, in, id, want string }{
		{
			name: "moto auth error",
			in:   `<?xml version="1.0" encoding="utf-8"?>` + "\n" + `<ErrorResponse><Errors><Error><Code>InvalidClientTokenId</Code><Message>m</Message><Type>Sender</Type></Error></Errors></ErrorResponse>`,
			id:   "R1",
			want: `<?xml version="1.0" encoding="utf-8"?>` + "\n" + `<ErrorResponse><Error><Code>InvalidClientTokenId</Code><Message>m</Message><Type>Sender</Type></Error><RequestId>R1</RequestId></ErrorResponse>`,
		},
		{
			name: "already STS-shaped",
			in:   `<ErrorResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/"><Error><Code>ValidationError</Code></Error><RequestId>x</RequestId></ErrorResponse>`,
			want: `<ErrorResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/"><Error><Code>ValidationError</Code></Error><RequestId>x</RequestId></ErrorResponse>`,
		},
		{name: "not XML", in: "<html>500</html>", want: "<html>500</html>"},
		{name: "truncated", in: "<ErrorResponse><Errors><Error><Code>X", want: "<ErrorResponse><Errors><Error><Code>X"},
	}
	for _, tt := range tests {
		if got := string(fixErrorBody([]byte(tt.in), tt.id)); got != tt.want {
			t.Errorf("%s:\ngot  %s\nwant %s", tt.name, got, tt.want)
		}
	}
}
