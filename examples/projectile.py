"""Aim a cannon: optimise the launch angle through a `while y >= 0` simulation.

    python examples/projectile.py [--fast] [--out DIR] [--target METRES]

A ball leaves the ground at 30 m/s and flies under gravity and quadratic air
drag, simulated by explicit time steps until it falls below the ground,
the last step interpolated back to y = 0. The number of steps depends on
the angle; s2sad's gradient records that count in the forward loop and
replays the steps backwards. The squared miss (distance - target)^2 is
minimised over the angle with s2sad.optim.Adam, starting from 10 degrees.
Saves the loss curve (projectile_loss.png) and the trajectories
(projectile_trajectories.png).
"""

import time

import numpy as np

import s2sad
import s2sad.optim

from _common import parse_args, progress, pyplot, save_loss_plot, savefig, set_postfix

SPEED, GRAVITY, DRAG, DT = 30.0, 9.81, 0.01, 0.01   # m/s, m/s^2, 1/m, s


def landing_distance(angle, speed, g, drag, dt):
    """Horizontal distance at which the ball lands, launched at `angle` radians."""
    x, y = 0.0, 0.0
    vx = speed * np.cos(angle)
    vy = speed * np.sin(angle)
    while y >= 0.0:
        v = np.sqrt(vx * vx + vy * vy)
        vx = vx - dt * drag * v * vx
        vy = vy - dt * (g + drag * v * vy)
        x = x + dt * vx
        y = y + dt * vy
    return x - y * vx / vy                           # back along the last step to y = 0


def miss(angle, target, speed, g, drag, dt):
    return (landing_distance(angle, speed, g, drag, dt) - target) ** 2


def trajectory(angle, speed=SPEED, g=GRAVITY, drag=DRAG, dt=DT):
    """The same simulation, keeping the path (for the plot only)."""
    x, y, vx, vy = 0.0, 0.0, speed * np.cos(angle), speed * np.sin(angle)
    xs, ys = [x], [y]
    while y >= 0.0:
        v = np.sqrt(vx * vx + vy * vy)
        vx, vy = vx - dt * drag * v * vx, vy - dt * (g + drag * v * vy)
        x, y = x + dt * vx, y + dt * vy
        xs.append(x)
        ys.append(y)
    return np.array(xs), np.array(ys)


def main(argv=None):
    args = parse_args(__doc__.splitlines()[0], argv,
                      extra=lambda p: p.add_argument("--target", type=float, default=50.0))
    steps = 40 if args.fast else 300
    physics = (SPEED, GRAVITY, DRAG, DT)
    target = args.target
    print(f"projectile: speed {SPEED} m/s, drag {DRAG}/m, time step {DT} s; target {target} m")

    # The gradient of the distance itself, against central differences, at 30 degrees.
    d_distance = s2sad.grad(landing_distance)
    a, eps = np.radians(30.0), 1e-6
    fd = (landing_distance(a + eps, *physics) - landing_distance(a - eps, *physics)) / (2 * eps)
    print(f"at 30 degrees: distance {landing_distance(a, *physics):.3f} m, "
          f"d distance / d angle = {d_distance(a, *physics):.4f} m/rad (s2sad), {fd:.4f} (finite differences)")

    loss_and_grad = s2sad.value_and_grad(miss)
    angle = np.radians(10.0)
    start_angle = angle
    opt = s2sad.optim.Adam(lr=0.01)
    state = opt.init(angle)
    losses = []
    start = time.perf_counter()
    bar = progress(steps, "aiming")
    for _ in bar:
        loss, g = loss_and_grad(angle, target, *physics)
        losses.append(float(loss))
        set_postfix(bar, miss=np.sqrt(loss))
        angle, state = opt.update(angle, g, state)
    seconds = time.perf_counter() - start
    angle = float(angle)
    distance = float(landing_distance(angle, *physics))
    losses.append((distance - target) ** 2)
    print(f"{steps} Adam steps ({seconds:.2f} s): angle {np.degrees(start_angle):.2f} -> "
          f"{np.degrees(angle):.4f} degrees")
    print(f"distance {landing_distance(start_angle, *physics):.3f} m -> {distance:.4f} m "
          f"(target {target} m, miss {abs(distance - target):.2e} m)")

    plot = save_loss_plot(losses, args.out, "projectile_loss.png", "Aiming (Adam on the angle)",
                          ylabel="squared miss (m$^2$)")
    paths = None
    plt = pyplot()
    if plt is not None:
        fig, ax = plt.subplots(figsize=(7, 3.5))
        for a_deg in (np.degrees(start_angle), 30.0, np.degrees(angle)):
            xs, ys = trajectory(np.radians(a_deg))
            ax.plot(xs, ys, label=f"{a_deg:.2f} deg")
        ax.axvline(target, color="k", linestyle=":", label="target")
        ax.set_ylim(bottom=0)
        ax.set_xlabel("x (m)")
        ax.set_ylabel("y (m)")
        ax.legend()
        paths = savefig(fig, args.out, "projectile_trajectories.png")
    return {"angle": angle, "angle_degrees": float(np.degrees(angle)), "distance": distance,
            "target": target, "miss": abs(distance - target), "losses": losses,
            "initial_loss": losses[0], "final_loss": losses[-1], "plot": plot,
            "trajectory_plot": paths}


if __name__ == "__main__":
    main()
