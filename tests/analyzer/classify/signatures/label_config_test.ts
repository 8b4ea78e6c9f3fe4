import assert from "node:assert/strict";
import {
  builtinLabelConfig,
  labelConfig,
} from "../../../../src/analyzer/classify/signatures/label_config.ts";

Deno.test("builtinLabelConfig() lists the seed's label groups", () => {
  const config = builtinLabelConfig();
  const groups = Object.fromEntries(config.groups.map((g) => [g.group_name, g.labels]));
  assert.ok(groups.social?.includes("facebook") && groups.social.includes("vk"));
  assert.ok(groups.peer2peer?.includes("bittorrent") && groups.peer2peer.includes("skype"));
  assert.ok(groups.vpn?.includes("socks5") && groups.vpn.includes("openvpn"));
  assert.ok(groups.other?.includes("ssh") && groups.other.includes("telnet"));
  assert.equal(config.groupOf("vk"), "social");
  assert.equal(config.groupOf("VPN-CHAT"), "traffic_class");
});

Deno.test("labelConfig() maps a domain and its subdomains to an application", () => {
  const config = builtinLabelConfig();
  assert.equal(config.labelForDomain("vk.com"), "vk");
  assert.equal(config.labelForDomain("sun9-1.USERAPI.com"), "vk");
  assert.equal(config.labelForDomain("static.xx.fbcdn.net"), "facebook");
  assert.equal(config.labelForDomain("notvk.com"), undefined, "a suffix is a whole label");
  assert.equal(config.labelForDomain("com"), undefined);
  assert.equal(config.labelForProtocol("wireguard"), "wireguard");
  assert.ok(config.allLabels().includes("ftp"));
});

Deno.test("labelConfig() renames protocols and lists every label it can give", () => {
  const config = labelConfig("protocols: {openvpn: vpn}\ndomains: {acme: ['*.acme.test']}\n");
  assert.equal(config.labelForProtocol("openvpn"), "vpn");
  assert.equal(config.labelForProtocol("ssh"), "ssh");
  assert.equal(config.labelForDomain("www.acme.test"), "acme");
  assert.deepEqual(config.allLabels(), ["acme", "vpn"]);
});

Deno.test("labelConfig() rejects bad files, naming the field", () => {
  for (
    const [text, message] of [
      ["groups: {}", /groups: expected a list/],
      ["groups: [{group_name: x, labels: [a b]}]", /groups\[0\]\.labels: invalid label "a b"/],
      ["groups: [{labels: [a]}]", /groups\[0\]: group_name/],
      ["domains: {a: [x.com], b: [x.com]}", /"x\.com" is listed under "a" and "b"/],
      ["domains: {a: x.com}", /domains\.a: expected a list/],
      ["protocols: {ssh: 5}", /protocols\.ssh: invalid label/],
      ["colours: []", /unknown key "colours"/],
      ["- a", /expected a mapping/],
    ] as const
  ) assert.throws(() => labelConfig(text, "t.yaml"), message, text);
  assert.throws(() => labelConfig("a: [", "t.yaml"), SyntaxError);
});
