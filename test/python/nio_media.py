# matrix-nio against Hearth's media repository: upload (POST /_matrix/media/v3/upload), then
# download and thumbnail through nio's own calls (authenticated /_matrix/client/v1/media paths).
# Prints one JSON line with what nio got. Usage: nio_media.py <homeserver> <user_id> <password> <png file>
import asyncio
import io
import json
import sys

from nio import AsyncClient, ResizingMethod


async def main(homeserver, user_id, password, png_path):
    client = AsyncClient(homeserver, user_id)
    out = {}
    try:
        login = await client.login(password)
        out["login"] = type(login).__name__
        text = b"hello from nio"
        up, _ = await client.upload(io.BytesIO(text), content_type="text/plain", filename="nio note.txt", filesize=len(text))
        out["upload"] = type(up).__name__
        out["content_uri"] = getattr(up, "content_uri", None)
        down = await client.download(mxc=up.content_uri)
        out["download"] = type(down).__name__
        out["body"] = down.body.decode() if isinstance(getattr(down, "body", None), bytes) else None
        out["filename"] = getattr(down, "filename", None)
        out["content_type"] = getattr(down, "content_type", None)
        with open(png_path, "rb") as f:
            png = f.read()
        img, _ = await client.upload(io.BytesIO(png), content_type="image/png", filename="picture.png", filesize=len(png))
        server_name, media_id = img.content_uri[len("mxc://"):].split("/", 1)
        thumb = await client.thumbnail(server_name, media_id, 96, 96, ResizingMethod.crop)
        out["thumbnail"] = type(thumb).__name__
        out["thumbnail_type"] = getattr(thumb, "content_type", None)
        body = getattr(thumb, "body", b"")
        out["thumbnail_png"] = isinstance(body, bytes) and body[:8] == b"\x89PNG\r\n\x1a\n"
        # Width and height from the PNG's IHDR chunk.
        out["thumbnail_size"] = [int.from_bytes(body[16:20], "big"), int.from_bytes(body[20:24], "big")] if out["thumbnail_png"] else None
    finally:
        await client.close()
    print(json.dumps(out))


if __name__ == "__main__":
    asyncio.run(main(*sys.argv[1:5]))
