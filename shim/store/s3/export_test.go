package s3

import "context"

// PutRawForTest writes value to the object key obj as it is, bypassing the key escaping.
func PutRawForTest(ctx context.Context, s *Store, obj string, value []byte) error {
	return s.put(ctx, obj, value, false)
}
