// Echo server for aiows's interop tests, built on the `ws` package.
//
// Usage: node echo_server.js [deflate|plain]
//
// Listens on 127.0.0.1 on a free port and prints that port on stdout (one
// line), then:
//   * echoes every TEXT and BINARY message back as one message of the same
//     type;
//   * on the TEXT message "close:<code>:<reason>" closes the connection with
//     that code and reason instead of echoing;
//   * answers pings (ws does this itself).
// With "deflate" (the default) permessage-deflate is offered to clients;
// with "plain" it is switched off.  The server has no message size limit.
// It exits when its stdin is closed, so it never outlives the test run.
"use strict";

const { WebSocketServer } = require("ws");

const mode = process.argv[2] || "deflate";
if (mode !== "deflate" && mode !== "plain") {
  process.stderr.write(`unknown mode ${mode}; use deflate or plain\n`);
  process.exit(2);
}

const server = new WebSocketServer({
  host: "127.0.0.1",
  port: 0,
  maxPayload: 0, // no limit: the tests send 16 MiB
  perMessageDeflate:
    mode === "deflate"
      ? { threshold: 0, clientNoContextTakeover: false, serverNoContextTakeover: false }
      : false,
});

server.on("connection", (socket, request) => {
  const extensions = request.headers["sec-websocket-extensions"] || "";
  socket.on("message", (data, isBinary) => {
    if (!isBinary) {
      const text = data.toString("utf8");
      if (text.startsWith("close:")) {
        const rest = text.slice("close:".length);
        const colon = rest.indexOf(":");
        const code = Number(rest.slice(0, colon));
        const reason = rest.slice(colon + 1);
        socket.close(code, reason);
        return;
      }
      if (text === "offer?") {
        // Report what the client offered, for the negotiation test.
        socket.send(extensions, { binary: false });
        return;
      }
      socket.send(text, { binary: false });
      return;
    }
    socket.send(data, { binary: true });
  });
  socket.on("error", () => {});
});

server.on("listening", () => {
  process.stdout.write(`${server.address().port}\n`);
});

process.stdin.on("end", () => server.close(() => process.exit(0)));
process.stdin.resume();
