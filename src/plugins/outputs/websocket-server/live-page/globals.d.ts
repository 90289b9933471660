// What the live page's script finds in the browser beyond the DOM: the msgpack decoder the page loads
// first (the UMD build of @msgpack/msgpack, served at /assets/msgpack.min.js).
interface Window {
  MessagePack?: { decode(data: Uint8Array): unknown };
}
