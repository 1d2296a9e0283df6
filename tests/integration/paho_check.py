#!/usr/bin/python3
# Python paho (Debian's python3-paho-mqtt) against a running broker, over
# TCP, over WebSocket at /mqtt, and over TLS and secure WebSocket if given
# their ports, with MQTT 3.1.1 and 5.0: QoS 0, 1 and 2
# end to end, a retained message, a will on a dropped connection, and (5.0)
# user properties, response topic, correlation data and a subscription
# identifier. Prints one line per transport and version, "ok ..." or
# "fail ...", and exits 1 if any failed.
#
#   paho_check.py MQTT_PORT HTTP_PORT [TLS_PORT CA_FILE [HTTPS_PORT]]
import sys
import threading
import time

import paho.mqtt.client as mqtt
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties


class Client:
    def __init__(self, name, transport, port, version, will=None):
        self.got = []
        self.cond = threading.Condition()
        ca = None
        if transport.startswith("tls:"):  # "tls:CA_FILE": TCP with TLS
            transport, ca = "tcp", transport[4:]
        elif transport.startswith("wss:"):  # "wss:CA_FILE": WebSocket with TLS
            transport, ca = "websockets", transport[4:]
        self.c = mqtt.Client(client_id=name, protocol=version, transport=transport)
        if ca:
            self.c.tls_set(ca_certs=ca)
        if transport == "websockets":
            self.c.ws_set_options(path="/mqtt")
        if will:
            self.c.will_set(*will)
        self.c.on_message = self._on_message
        connected = threading.Event()
        self.c.on_connect = lambda *args: connected.set()
        if version == mqtt.MQTTv5:
            self.c.connect("127.0.0.1", port, clean_start=True)
        else:
            self.c.connect("127.0.0.1", port)
        self.c.loop_start()
        if not connected.wait(5):
            raise RuntimeError(name + ": no CONNACK")

    def _on_message(self, client, userdata, msg):
        with self.cond:
            self.got.append(msg)
            self.cond.notify_all()

    def wait(self, n, timeout=5):
        with self.cond:
            self.cond.wait_for(lambda: len(self.got) >= n, timeout)
            return list(self.got)

    def subscribe(self, topic, qos, properties=None):
        done = threading.Event()
        self.c.on_subscribe = lambda *args: done.set()
        if properties is not None:
            self.c.subscribe(topic, qos, properties=properties)
        else:
            self.c.subscribe(topic, qos)
        if not done.wait(5):
            raise RuntimeError("no SUBACK")

    def publish(self, topic, payload, qos, retain=False, properties=None):
        info = self.c.publish(topic, payload, qos, retain, properties=properties)
        info.wait_for_publish(5)
        if not info.is_published():
            raise RuntimeError("publish of %s not acknowledged" % topic)

    def stop(self):
        self.c.disconnect()
        self.c.loop_stop()


def check(transport, port, version):
    tag = "%s-%s" % (transport.split(":")[0], "v5" if version == mqtt.MQTTv5 else "v311")
    base = "py/" + tag
    sub = Client(tag + "-sub", transport, port, version)
    sub_props = None
    if version == mqtt.MQTTv5:
        sub_props = Properties(PacketTypes.SUBSCRIBE)
        sub_props.SubscriptionIdentifier = 42
    sub.subscribe(base + "/#", 2, sub_props)
    pub = Client(tag + "-pub", transport, port, version)
    for qos in (0, 1, 2):
        pub.publish("%s/q%d" % (base, qos), b"m%d" % qos, qos)
    props = None
    if version == mqtt.MQTTv5:
        props = Properties(PacketTypes.PUBLISH)
        props.UserProperty = [("k", "v")]
        props.ResponseTopic = base + "/reply"
        props.CorrelationData = b"\x01\x02"
    pub.publish(base + "/props", b"p", 1, properties=props)
    pub.publish(base + "/kept", b"retained", 1, retain=True)
    got = sub.wait(5)
    topics = [m.topic for m in got]
    want = [base + "/q0", base + "/q1", base + "/q2", base + "/props", base + "/kept"]
    if sorted(topics) != sorted(want):
        return "fail %s: got %s" % (tag, topics)
    qos = {m.topic: m.qos for m in got}
    if [qos[base + "/q%d" % q] for q in (0, 1, 2)] != [0, 1, 2]:
        return "fail %s: QoS %s" % (tag, qos)
    if version == mqtt.MQTTv5:
        m = next(m for m in got if m.topic == base + "/props")
        p = m.properties
        if (getattr(p, "UserProperty", None) != [("k", "v")] or p.ResponseTopic != base + "/reply"
                or p.CorrelationData != b"\x01\x02" or 42 not in list(p.SubscriptionIdentifier)):
            return "fail %s: properties %s" % (tag, p)
    # The retained message reaches a later subscriber.
    late = Client(tag + "-late", transport, port, version)
    late.subscribe(base + "/kept", 1)
    kept = late.wait(1)
    if [(m.topic, m.payload, m.retain) for m in kept] != [(base + "/kept", b"retained", True)]:
        return "fail %s: retained %s" % (tag, [(m.topic, m.payload) for m in kept])
    pub.publish(base + "/kept", b"", 1, retain=True)
    # A will on a connection that drops without DISCONNECT.
    dying = Client(tag + "-dying", transport, port, version, will=(base + "/will", b"bye", 1))
    dying.c.loop_stop()
    dying.c.socket().close()
    got = sub.wait(7)
    if base + "/will" not in [m.topic for m in got]:
        return "fail %s: no will" % tag
    for c in (sub, pub, late):
        c.stop()
    return "ok %s: %d messages" % (tag, len(got))


def main():
    mqtt_port, http_port = int(sys.argv[1]), int(sys.argv[2])
    transports = [("tcp", mqtt_port), ("websockets", http_port)]
    if len(sys.argv) > 4:  # a TLS port and the CA file that signed its certificate
        transports.append(("tls:" + sys.argv[4], int(sys.argv[3])))
    if len(sys.argv) > 5:  # the HTTPS port, with the same certificate
        transports.append(("wss:" + sys.argv[4], int(sys.argv[5])))
    failed = False
    for transport, port in transports:
        for version in (mqtt.MQTTv311, mqtt.MQTTv5):
            try:
                line = check(transport, port, version)
            except Exception as e:  # a client error is a failed check
                line = "fail %s %s: %s" % (transport, version, e)
            print(line, flush=True)
            failed |= not line.startswith("ok ")
    time.sleep(0.1)
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
