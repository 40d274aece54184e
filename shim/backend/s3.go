package backend

import (
	"context"
	"net/url"

	"github.com/aft-shim/aft/shim/store"
	"github.com/aft-shim/aft/shim/store/s3"
)

// s3Scheme opens s3://BUCKET/PREFIX?region=R&endpoint=URL&path-style=true stores (package
// s3 parses and documents the URL).
var s3Scheme = scheme{check: checkS3, open: openS3}

func checkS3(u *url.URL) error {
	_, err := s3.ParseURL(u)
	return err
}

func openS3(ctx context.Context, u *url.URL, o Options) (store.Store, string, error) {
	so, err := s3.ParseURL(u)
	if err != nil {
		return nil, "", err
	}
	so.Create = o.CreateStore
	s, err := s3.Open(ctx, so)
	if err != nil {
		return nil, "", err
	}
	return s, so.String(), nil
}
