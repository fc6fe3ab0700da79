package moto

import (
	"bytes"
	"encoding/xml"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"strconv"
)

// moto 5.2 words its authentication errors (InvalidClientTokenId,
// SignatureDoesNotMatch, AccessDenied) the EC2 way:
//
//	<ErrorResponse><Errors><Error><Code>InvalidClientTokenId</Code>...
//
// where STS and IAM answer <ErrorResponse><Error><Code>. botocore reads both;
// aws-sdk-go-v2 finds no code and reports "UnknownError". So Server.URL is a
// small proxy in front of moto_server that passes everything through
// unchanged (Host included, so signatures still match) except such error
// bodies, which it unwraps into the form AWS sends.

var (
	wrappedOpen  = []byte("<ErrorResponse><Errors><Error>")
	wrappedClose = []byte("</Error></Errors></ErrorResponse>")
)

// startProxy serves a proxy to backend on a new loopback port and returns
// its URL and a function that stops it.
func startProxy(backend string) (string, func(), error) {
	target, err := url.Parse(backend)
	if err != nil {
		return "", nil, err
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", nil, err
	}
	rp := &httputil.ReverseProxy{
		Rewrite: func(r *httputil.ProxyRequest) {
			r.SetURL(target)
			r.Out.Host = r.In.Host // part of every SigV4 signature
		},
		ModifyResponse: unwrapError,
		Transport:      &http.Transport{Proxy: nil, DisableCompression: true, MaxIdleConnsPerHost: 16},
		ErrorLog:       log.New(io.Discard, "", 0),
	}
	srv := &http.Server{Handler: rp}
	go srv.Serve(ln)
	return "http://" + ln.Addr().String(), func() { srv.Close() }, nil
}

func unwrapError(resp *http.Response) error {
	// moto sends these as text/html, so look at every error body.
	if resp.StatusCode < 400 {
		return nil
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	resp.Body.Close()
	if err != nil {
		return err
	}
	fixed := fixErrorBody(body, resp.Header.Get("X-Amzn-Requestid"))
	resp.Body = io.NopCloser(bytes.NewReader(fixed))
	resp.ContentLength = int64(len(fixed))
	resp.Header.Set("Content-Length", strconv.Itoa(len(fixed)))
	return nil
}

// fixErrorBody rewrites moto's <ErrorResponse><Errors><Error>...</Error></Errors>
// into STS's <ErrorResponse><Error>...</Error><RequestId>...</RequestId>, and
// returns any other body as it is.
func fixErrorBody(body []byte, requestID string) []byte {
	i := bytes.Index(body, wrappedOpen)
	j := bytes.LastIndex(body, wrappedClose)
	if i < 0 || j < i {
		return body
	}
	inner := body[i+len(wrappedOpen) : j]
	var b bytes.Buffer
	b.Write(body[:i])
	b.WriteString("<ErrorResponse><Error>")
	b.Write(inner)
	b.WriteString("</Error>")
	if requestID != "" {
		b.WriteString("<RequestId>")
		xml.EscapeText(&b, []byte(requestID))
		b.WriteString("</RequestId>")
	}
	b.WriteString("</ErrorResponse>")
	b.Write(body[j+len(wrappedClose):])
	return b.Bytes()
}
