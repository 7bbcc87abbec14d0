"""sushy (OpenStack's Redfish library, the one Ironic uses) against the node.

Logs in with a Redfish session as a local operator, powers each given
system (a bus power device, a BMC's server) off, on, through a cycle and
through a forced restart (Ironic's reboot) with ComputerSystem.Reset, and confirms each state through the v1.1 API
(GET /opendcre/1.1/power/status/{board}/{device}) with a bearer token; then
logs out and checks the session token is refused. With `--boot
BOARD-DEVICE:PORT` (a BMC's server and its ipmi_sim's UDP port) it also
sets that system's boot override to PXE, once, with sushy's
set_system_boot_options, and confirms it with ipmitool on the BMC
(`chassis bootparam get 5`: the device selector; ipmi_sim keeps no
valid/persistent bits, docs/redfish.md). With `--pull URI` it has the
node fetch and install a bundle with sushy's UpdateService.simple_update
and follows the task to its end. Run by ci/redfish-validate.sh with sushy's venv python:

    python redfish-sushy.py URL CAFILE USER PASSWORD V11_TOKEN [--boot SYS:PORT] [--pull URI] BOARD-DEVICE...
"""

import json
import ssl
import subprocess
import sys
import time
import urllib.error
import urllib.request

import sushy
from sushy import auth

TIMEOUT = 20


def get_json(url, ctx, token, path):
    req = urllib.request.Request(url + path, headers={"Authorization": f"Bearer {token}"})
    with urllib.request.urlopen(req, context=ctx, timeout=TIMEOUT) as r:
        return json.load(r)


def v11_power(url, ctx, token, board, device):
    return get_json(url, ctx, token, f"/opendcre/1.1/power/status/{board}/{device}")["power_status"]


def status_with_session_token(url, ctx, token):
    req = urllib.request.Request(
        f"{url}/redfish/v1/Systems", headers={"X-Auth-Token": token}
    )
    try:
        with urllib.request.urlopen(req, context=ctx, timeout=TIMEOUT) as r:
            return r.status
    except urllib.error.HTTPError as e:
        return e.code


def ipmitool_boot_device(port):
    """The boot device selector ipmitool decodes from parameter 5."""
    out = subprocess.run(
        ["ipmitool", "-I", "lanplus", "-C", "3", "-H", "127.0.0.1", "-p", str(port),
         "-U", "ADMIN", "-P", "ADMIN", "-N", "1", "-R", "3",
         "chassis", "bootparam", "get", "5"],
        capture_output=True, text=True, timeout=TIMEOUT, check=True,
    ).stdout
    for line in out.splitlines():
        if "Boot Device Selector :" in line:
            return line.split(":", 1)[1].strip()
    raise AssertionError(f"no boot device selector in {out!r}")


def ipmitool_guid(port):
    """The BMC's System GUID as ipmitool decodes IPMI's byte order."""
    out = subprocess.run(
        ["ipmitool", "-I", "lanplus", "-C", "3", "-H", "127.0.0.1", "-p", str(port),
         "-U", "ADMIN", "-P", "ADMIN", "-N", "1", "-R", "3", "mc", "guid", "ipmi"],
        capture_output=True, text=True, timeout=TIMEOUT, check=True,
    ).stdout
    for line in out.splitlines():
        if line.startswith("System GUID"):
            return line.split(":", 1)[1].strip()
    raise AssertionError(f"no System GUID in {out!r}")


def boot_override(root, name, port):
    system = root.get_system(f"/redfish/v1/Systems/{name}")
    # The UUID an orchestrator (Ironic) matches the server by.
    guid = ipmitool_guid(port)
    print(f"  UUID of {name}: {system.uuid}; ipmitool mc guid: {guid}")
    assert system.uuid == guid, (system.uuid, guid)
    targets = sorted(v.value for v in system.get_allowed_system_boot_source_values())
    print(f"  boot of {name}: {system.boot.target}, {system.boot.enabled}, "
          f"targets {targets}; ipmitool: {ipmitool_boot_device(port)}")
    started = time.monotonic()
    system.set_system_boot_options(
        target=sushy.BootSource.PXE, enabled=sushy.BootSourceOverrideEnabled.ONCE
    )
    system.refresh()
    got = ipmitool_boot_device(port)
    print(f"  set PXE once: Boot target {system.boot.target}, ipmitool: {got} "
          f"({(time.monotonic() - started) * 1000:.0f} ms)")
    assert system.boot.target == sushy.BootSource.PXE, system.boot.target
    assert got == "Force PXE", got


def pull_update(root, image_uri):
    """SimpleUpdate as sushy calls it, then its Task until it has ended.

    sushy's TaskMonitor takes the 202 body's `@odata.id` (the Task, which
    answers 200) over `Location` (the node's task monitor, which answers
    202 while the task runs), so its `is_processing` is false from the
    start; the Task's state is what says the work is done."""
    update = root.get_update_service()
    started = time.monotonic()
    monitor = update.simple_update(
        image_uri, transfer_protocol=sushy.UpdateTransferProtocolType.HTTP
    )
    task = monitor.task or monitor.get_task()
    while task.task_state in (sushy.TaskState.NEW, sushy.TaskState.STARTING,
                              sushy.TaskState.RUNNING, sushy.TaskState.PENDING):
        assert time.monotonic() - started < 60, "the SimpleUpdate task did not end"
        time.sleep(0.2)
        task.refresh()
    print(f"  SimpleUpdate {image_uri}: task {task.identity} {task.task_state} "
          f"{task.task_status}, {task.percent_complete} % "
          f"({(time.monotonic() - started) * 1000:.0f} ms)")
    assert task.task_state == sushy.TaskState.COMPLETED, (task.task_state, task.messages)


def chassis_environment(root, url, ctx, token):
    """The rack's Thermal and Power as sushy parses them (Ironic's sensor
    data): one temperature per Temperature sensor of the boards, fans with
    integer RPM, every member identified."""
    rack = root.get_chassis("/redfish/v1/Chassis/Rack")
    thermal, power = rack.thermal, rack.power
    sensors = 0
    for member in get_json(url, ctx, token, "/redfish/v1/Chassis")["Members"]:
        chassis = get_json(url, ctx, token, member["@odata.id"])
        if chassis.get("ChassisType") != "Module":  # the rack, a BMC's server
            continue
        coll = get_json(url, ctx, token, chassis["Sensors"]["@odata.id"])
        for m in coll["Members"]:
            sensors += m["@odata.id"].endswith("-Temperature")
    temps = [(t.identity, t.reading_celsius) for t in thermal.temperatures]
    fans = [(f.identity, f.reading, f.reading_units) for f in thermal.fans]
    print(f"  rack Thermal: {len(temps)} temperatures {temps[:3]}..., fans {fans}; "
          f"Power {power.identity}: {len(power.power_supplies)} power supplies")
    assert len(temps) == sensors > 0, (temps, sensors)
    assert all(i and isinstance(c, (int, float)) for i, c in temps), temps
    assert all(i and isinstance(r, int) for i, r, _ in fans), fans
    assert power.identity == "Power"


def main():
    args = sys.argv[1:]
    boot = None
    if "--boot" in args:
        i = args.index("--boot")
        boot = args[i + 1]
        del args[i:i + 2]
    pull = None
    if "--pull" in args:
        i = args.index("--pull")
        pull = args[i + 1]
        del args[i:i + 2]
    url, cafile, user, password, v11_token = args[:5]
    systems = args[5:]
    assert systems, "name at least one system (BOARD-DEVICE)"
    ctx = ssl.create_default_context(cafile=cafile)
    session_auth = auth.SessionAuth(user, password)
    root = sushy.Sushy(
        url,
        auth=session_auth,
        verify=cafile,
        server_side_retries=0,
        read_timeout=TIMEOUT,
        connect_timeout=TIMEOUT,
    )
    token = session_auth.get_session_key()
    assert token, "sushy did not get an X-Auth-Token"
    for name in systems:
        board, device = name.split("-")
        system = root.get_system(f"/redfish/v1/Systems/{name}")
        allowed = sorted(v.value for v in system.get_allowed_reset_system_values())
        print(f"sushy {sushy.__version__}: system {system.identity}, "
              f"PowerState {system.power_state}, resets {allowed}")
        steps = [
            (sushy.RESET_FORCE_OFF, sushy.POWER_STATE_OFF, "off"),
            (sushy.RESET_ON, sushy.POWER_STATE_ON, "on"),
            (sushy.RESET_TYPE_POWER_CYCLE, sushy.POWER_STATE_ON, "on"),
            # Ironic's hard reboot: a bus power device's cycle, a BMC's
            # hard reset; on again either way.
            (sushy.RESET_FORCE_RESTART, sushy.POWER_STATE_ON, "on"),
        ]
        for reset, redfish_state, v11_state in steps:
            started = time.monotonic()
            system.reset_system(reset)
            system.refresh()
            got = v11_power(url, ctx, v11_token, board, device)
            print(f"  {reset}: PowerState {system.power_state}, v1.1 power_status {got!r} "
                  f"({(time.monotonic() - started) * 1000:.0f} ms)")
            assert system.power_state == redfish_state, (name, reset, system.power_state)
            assert got == v11_state, (name, reset, got)
    if boot:
        name, port = boot.split(":")
        boot_override(root, name, int(port))
    if pull:
        pull_update(root, pull)
    chassis_environment(root, url, ctx, v11_token)
    assert status_with_session_token(url, ctx, token) == 200
    session_auth.close()  # DELETE of the session: the logout
    after = status_with_session_token(url, ctx, token)
    print(f"  after logout the session token gets {after}")
    assert after == 401, after
    print("sushy smoke test: ok")


if __name__ == "__main__":
    main()
