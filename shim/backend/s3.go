package backend

// s3Scheme opens s3 stores (not built yet).
var s3Scheme = notBuilt("s3")
