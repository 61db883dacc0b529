// Prologue of dist/nsm.cjs (scripts/bundle.mjs puts it first): the bundle's require() hands
// out stand-ins for built-ins that take milliseconds to load and that most commands
// never use: node:child_process (it brings node:net, node:dgram and node:stream), node:tty
// (node:net and node:stream again) and node:crypto. commander requires child_process when
// it loads (for executable subcommands, which nsm has none of), chalk requires tty to call
// isatty(1) and isatty(2), and a module that imports one loads it with itself. node:os and
// node:string_decoder are not loaded by Node's own start either, and the bundles import them
// (and node:net, for slirp4netns's API socket) for a rare path (an errno or signal number libuv cannot name, the scanner's reader).
// node:module, which brings Node's ES module loader with it, is only for createRequire (to
// load koffi or prom-client), which `nsm exec` as root never calls. A stand-in
// loads the real module when one of its members is first used; the one for tty answers
// isatty() from fstat(2), without loading it, for a descriptor that cannot be a terminal:
// not a character device (a pipe, a file, a socket), or a memory device such as /dev/null
// (major 1, Documentation/admin-guide/devices.txt).
var require = ((nodeRequire) => {
  const lazyModule = (load) => {
    let mod;
    const real = () => (mod ??= load());
    return new Proxy(
      {},
      {
        get: (_, key) => real()[key],
        set: (_, key, value) => Reflect.set(real(), key, value),
        has: (_, key) => key in real(),
        ownKeys: () => Reflect.ownKeys(real()),
        // Reported as configurable: the stand-in itself has none of these properties.
        getOwnPropertyDescriptor: (_, key) => {
          const d = Reflect.getOwnPropertyDescriptor(real(), key);
          return d && { ...d, configurable: true };
        },
      },
    );
  };
  const lazyTty = (load) => {
    let mod;
    const real = () => (mod ??= load());
    return {
      isatty(fd) {
        try {
          const st = nodeRequire('fs').fstatSync(fd);
          if (!st.isCharacterDevice() || ((st.rdev >> 8) & 0xfff) === 1) return false;
        } catch {
          return false; // not an open descriptor: tty.isatty() says false too
        }
        return real().isatty(fd);
      },
      get ReadStream() {
        return real().ReadStream;
      },
      get WriteStream() {
        return real().WriteStream;
      },
    };
  };
  const standIns = { child_process: lazyModule, crypto: lazyModule, module: lazyModule, net: lazyModule, os: lazyModule, string_decoder: lazyModule, tty: lazyTty };
  const made = new Map();
  const lazyRequire = (id) => {
    const name = id.startsWith('node:') ? id.slice(5) : id;
    if (!Object.hasOwn(standIns, name)) return nodeRequire(id);
    if (!made.has(name)) made.set(name, standIns[name](() => nodeRequire(name)));
    return made.get(name);
  };
  return Object.assign(lazyRequire, { resolve: nodeRequire.resolve, cache: nodeRequire.cache, main: nodeRequire.main });
})(require);
