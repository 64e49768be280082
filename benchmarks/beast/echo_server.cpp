// A WebSocket echo server in C++ (Boost.Beast), for the benchmark mode that
// follows the field's method (python -m benchmarks --field): a native
// server that stays out of the way of the clients measured.
//
// One thread.  Listens on two ports of 127.0.0.1, clear text and TLS, and
// prints them once ready as one JSON line: {"plain": P, "tls": Q}.  Each
// message comes back whole, with its type (text or binary); pings are
// answered and the closing handshake is completed by Beast itself.
//
// Build: g++ -O2 -std=c++20 echo_server.cpp -o echo_server -lssl -lcrypto
// Run:   echo_server CERT_PEM KEY_PEM [CPU]
// <utility> first: Boost 1.74's awaitable.hpp uses std::exchange without it.
#include <utility>

#include <boost/asio.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/ssl.hpp>
#include <boost/beast/websocket.hpp>
#include <boost/beast/websocket/ssl.hpp>

#include <sched.h>

#include <cstdlib>
#include <iostream>

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace websocket = boost::beast::websocket;
using tcp = asio::ip::tcp;
using asio::use_awaitable;

// The largest message echoed (the biggest case sends 2 MB).
constexpr std::size_t max_message = 64 * 1024 * 1024;

template <class Next>
asio::awaitable<void> echo_messages(websocket::stream<Next>& ws) {
    ws.read_message_max(max_message);
    ws.auto_fragment(false);
    co_await ws.async_accept(use_awaitable);
    beast::flat_buffer buffer;
    for (;;) {
        std::size_t size = co_await ws.async_read(buffer, use_awaitable);
        ws.text(ws.got_text());
        co_await ws.async_write(buffer.data(), use_awaitable);
        buffer.consume(size);
    }
}

asio::awaitable<void> serve_plain(tcp::socket socket) {
    try {
        websocket::stream<beast::tcp_stream> ws(std::move(socket));
        co_await echo_messages(ws);
    } catch (const std::exception&) {
        // The client went away or closed: nothing to report.
    }
}

asio::awaitable<void> serve_tls(tcp::socket socket, asio::ssl::context& tls) {
    try {
        websocket::stream<beast::ssl_stream<beast::tcp_stream>> ws(std::move(socket), tls);
        co_await ws.next_layer().async_handshake(asio::ssl::stream_base::server,
                                                 use_awaitable);
        co_await echo_messages(ws);
    } catch (const std::exception&) {
    }
}

asio::awaitable<void> accept_on(tcp::acceptor acceptor, asio::ssl::context* tls) {
    for (;;) {
        tcp::socket socket = co_await acceptor.async_accept(use_awaitable);
        socket.set_option(tcp::no_delay(true));
        auto executor = acceptor.get_executor();
        if (tls == nullptr) {
            asio::co_spawn(executor, serve_plain(std::move(socket)), asio::detached);
        } else {
            asio::co_spawn(executor, serve_tls(std::move(socket), *tls), asio::detached);
        }
    }
}

int main(int argc, char** argv) {
    if (argc < 3) {
        std::cerr << "usage: echo_server CERT_PEM KEY_PEM [CPU]\n";
        return 2;
    }
    if (argc > 3) {
        cpu_set_t cpus;
        CPU_ZERO(&cpus);
        CPU_SET(std::atoi(argv[3]), &cpus);
        sched_setaffinity(0, sizeof(cpus), &cpus);  // best effort
    }
    asio::io_context io(1);
    asio::ssl::context tls(asio::ssl::context::tls_server);
    tls.use_certificate_chain_file(argv[1]);
    tls.use_private_key_file(argv[2], asio::ssl::context::pem);

    tcp::endpoint any_port(asio::ip::make_address("127.0.0.1"), 0);
    tcp::acceptor plain(io, any_port);
    tcp::acceptor secure(io, any_port);
    std::cout << "{\"plain\": " << plain.local_endpoint().port()
              << ", \"tls\": " << secure.local_endpoint().port() << "}" << std::endl;
    asio::co_spawn(io, accept_on(std::move(plain), nullptr), asio::detached);
    asio::co_spawn(io, accept_on(std::move(secure), &tls), asio::detached);
    io.run();
    return 0;
}
