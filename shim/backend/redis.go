package backend

// redisScheme opens redis stores (not built yet).
var redisScheme = notBuilt("redis")
