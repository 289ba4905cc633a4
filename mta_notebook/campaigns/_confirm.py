"""The confirm panel: a plan's card and a Send button, in a notebook (ipywidgets)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ._engine import CampaignClient
    from ._plan import CampaignPlan


def confirm_panel(plan: CampaignPlan, client: CampaignClient) -> Any:
    """A VBox of the plan (recipients, identity, credits, preview), a Send button and an output
    area; nothing is sent until the button is clicked."""
    import ipywidgets as widgets

    recipients = len(plan.to_send)
    credits = int(plan.to_send["credits"].sum())
    info = widgets.HTML(plan.as_html())
    button = widgets.Button(
        description=f"Send to {recipients} recipients",
        button_style="danger",
        icon="paper-plane",
        tooltip=f"{credits} credits, identity {plan.sender_name or plan.longcode_id}",
    )
    out = widgets.Output()

    def _on_click(_: Any) -> None:
        button.disabled = True
        with out:
            result = plan.send(client, confirm=True)
            from IPython.display import display

            display(result)  # type: ignore[no-untyped-call]

    button.on_click(_on_click)
    return widgets.VBox([info, button, out])
