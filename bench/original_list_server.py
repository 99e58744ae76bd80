"""The original privateshare server's list, for the benchmark's baseline.

Serves a folder's list the way docs/PROTOCOL.md describes the original
Python server: for each connection, one receive of at most 32 bytes, the
folder read afresh, every name followed by ", " in one send, then close.
Only `list` is answered; anything else is closed without a word.

    python3 bench/original_list_server.py FOLDER

Listens on 127.0.0.1, on a port the system picks, and prints that port on
its first line of output.
"""

import os
import socket
import sys


def main() -> None:
    folder = sys.argv[1]
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind(("127.0.0.1", 0))
    listener.listen(128)
    print(listener.getsockname()[1], flush=True)
    while True:
        conn, _ = listener.accept()
        try:
            op = conn.recv(32).decode().split(",")[0]
            if op == "list":
                message = ""
                for name in os.listdir(folder):
                    message += name + ", "
                conn.send(message.encode())
        except (OSError, UnicodeDecodeError):
            pass
        finally:
            conn.close()


if __name__ == "__main__":
    main()
