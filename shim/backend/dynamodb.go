package backend

// dynamodbScheme opens dynamodb stores (not built yet).
var dynamodbScheme = notBuilt("dynamodb")
