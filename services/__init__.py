"""modelmon's services, one package each; ``modelmon run NAME`` starts one."""
