package index

import (
	"container/list"
	"sync"
)

// Cache is a least-recently-used cache of immutable data versions, bounded by the bytes of
// the values it holds. It is safe for concurrent use. Values handed to Add and returned by
// Get are shared: nobody may modify them.
type Cache struct {
	mu    sync.Mutex
	max   int64
	size  int64
	order list.List // front: most recently used; elements hold *cacheItem
	items map[string]*list.Element
}

type cacheItem struct {
	key   string
	value []byte
}

// cacheOverhead approximates the bookkeeping bytes of one entry, so that many small values
// are bounded too.
const cacheOverhead = 128

// NewCache returns a cache holding at most maxBytes; 0 disables caching.
func NewCache(maxBytes int64) *Cache {
	return &Cache{max: maxBytes, items: map[string]*list.Element{}}
}

// Get returns the value cached under key.
func (c *Cache) Get(key string) ([]byte, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.items[key]
	if !ok {
		return nil, false
	}
	c.order.MoveToFront(e)
	return e.Value.(*cacheItem).value, true
}

// Add caches value under key, evicting the least recently used entries to stay in bounds.
// A value larger than a quarter of the cache is not cached.
func (c *Cache) Add(key string, value []byte) {
	cost := int64(len(value) + len(key) + cacheOverhead)
	if cost > c.max/4 {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if e, ok := c.items[key]; ok {
		c.order.MoveToFront(e)
		return
	}
	c.items[key] = c.order.PushFront(&cacheItem{key: key, value: value})
	c.size += cost
	for c.size > c.max {
		c.removeElement(c.order.Back())
	}
}

// Remove drops key from the cache.
func (c *Cache) Remove(key string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if e, ok := c.items[key]; ok {
		c.removeElement(e)
	}
}

func (c *Cache) removeElement(e *list.Element) {
	it := c.order.Remove(e).(*cacheItem)
	delete(c.items, it.key)
	c.size -= int64(len(it.value) + len(it.key) + cacheOverhead)
}

// Size returns the number of entries and the bytes they account for.
func (c *Cache) Size() (entries int, bytes int64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.items), c.size
}
