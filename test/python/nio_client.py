"""A matrix-nio client against a Hearth server, as a bot would use it (test/tools/nio.test.ts).

Usage: python nio_client.py <homeserver> <user_id> <password> <compat|domain>

Logs in (a new device: the server sends a "new login" notice), syncs until the server-notice invite
arrives, joins the notices room, syncs until the notice is in its timeline, lists devices, sets and
reads presence. In `domain` mode the sync filter says the client understands server-name senders
(spec/server-events.md). Prints one JSON object with what nio made of each answer.
"""

import asyncio
import json
import sys

from nio import AsyncClient, DevicesResponse, JoinResponse, LoginResponse, PresenceGetResponse, RoomMessageText
from nio.events.misc import BadEvent, UnknownBadEvent


def describe(event):
    """What nio parsed an event into: its class, sender, body and unsigned as the server sent them."""
    source = getattr(event, "source", None) or {}
    return {
        "class": type(event).__name__,
        "sender": getattr(event, "sender", None),
        "type": source.get("type"),
        "body": getattr(event, "body", None),
        "unsigned": source.get("unsigned", {}),
    }


async def main(homeserver, user_id, password, mode):
    out = {}
    client = AsyncClient(homeserver, user_id)
    sync_filter = {"hearth.domain_senders": True} if mode == "domain" else None
    try:
        login = await client.login(password, device_name="nio tools test")
        out["login"] = type(login).__name__
        if not isinstance(login, LoginResponse):
            out["login_error"] = str(login)
            return out

        # The new-login notice: an invite into the server-notices room.
        invited = None
        since = None
        for _ in range(10):
            resp = await client.sync(timeout=5000, since=since, sync_filter=sync_filter)
            since = getattr(resp, "next_batch", since)
            for room_id, info in resp.rooms.invite.items():
                invited = room_id
                out["invite_state"] = [describe(e) for e in info.invite_state]
            if invited:
                break
        out["invited_room"] = invited
        if invited is None:
            return out
        room = client.invited_rooms.get(invited)
        out["invited_room_name"] = room.display_name if room else None
        out["inviter"] = getattr(room, "inviter", None) if room else None

        join = await client.join(invited)
        out["join"] = type(join).__name__
        if not isinstance(join, JoinResponse):
            out["join_error"] = str(join)
            return out

        # The notice itself, in the timeline of the joined room.
        timeline = []
        for _ in range(10):
            resp = await client.sync(timeout=5000, since=since, sync_filter=sync_filter)
            since = getattr(resp, "next_batch", since)
            joined = resp.rooms.join.get(invited)
            if joined:
                timeline.extend(describe(e) for e in joined.timeline.events)
            if any(e["type"] == "m.room.message" for e in timeline):
                break
        out["timeline"] = timeline
        out["notices"] = [e for e in timeline if e["type"] == "m.room.message"]
        out["room_name"] = client.rooms[invited].display_name if invited in client.rooms else None

        devices = await client.devices()
        out["devices"] = type(devices).__name__
        if isinstance(devices, DevicesResponse):
            out["device_ids"] = [d.id for d in devices.devices]
        else:
            out["devices_error"] = str(devices)

        presence = await client.get_presence(user_id)
        out["presence"] = type(presence).__name__
        if isinstance(presence, PresenceGetResponse):
            out["presence_value"] = presence.presence
            out["status_msg"] = presence.status_msg
        else:
            out["presence_error"] = str(presence)
        await client.set_presence("online", "busy testing")
        presence = await client.get_presence(user_id)
        out["presence_after"] = type(presence).__name__
        out["status_msg_after"] = getattr(presence, "status_msg", None)
        return out
    finally:
        await client.close()


if __name__ == "__main__":
    result = asyncio.run(main(*sys.argv[1:5]))
    print(json.dumps(result))
